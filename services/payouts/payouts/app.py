from litestar import Litestar

from common.service import create_service_app
from payouts import api
from payouts.handlers import handlers
from payouts.settings import Settings


def create_app(settings: Settings | None = None) -> Litestar:
    return create_service_app(
        "payouts", settings or Settings(), route_handlers=api.route_handlers, handlers=handlers
    )
