from litestar import Litestar

from common.service import create_service_app
from ledger import api
from ledger.handlers import handlers
from ledger.settings import Settings


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    return create_service_app(
        "ledger", settings, route_handlers=api.route_handlers, handlers=handlers, needs=lambda runtime: settings
    )
