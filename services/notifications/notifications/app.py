from litestar import Litestar

from common.service import create_service_app
from notifications import api
from notifications.handlers import handlers
from notifications.settings import Settings


def create_app(settings: Settings | None = None) -> Litestar:
    return create_service_app(
        "notifications",
        settings or Settings(),
        route_handlers=api.route_handlers,
        handlers=handlers,
    )
