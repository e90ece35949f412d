import stripe
from litestar import Litestar
from litestar.di import Provide

from common.service import create_service_app
from payments import admin_api, api, offers_api, refunds_api
from payments.handlers import make_handlers
from payments.settings import Settings
from payments.stripe_gateway import StripeGateway


def create_app(settings: Settings | None = None, *, stripe_http_client: stripe.HTTPClient | None = None) -> Litestar:
    """`stripe_http_client` replaces the SDK's HTTPX client (tests record requests with it)."""
    settings = settings or Settings()
    gateway = StripeGateway(settings.stripe_api_key, settings.stripe_api_base, http_client=stripe_http_client)
    app = create_service_app(
        "payments",
        settings,
        route_handlers=[*api.route_handlers, *offers_api.route_handlers, *refunds_api.route_handlers,
                        *admin_api.route_handlers],
        handlers=make_handlers(gateway),
        exception_handlers={**api.exception_handlers, **refunds_api.exception_handlers},
        extra_dependencies={"stripe_gateway": Provide(lambda: gateway, sync_to_thread=False)},
    )
    app.on_shutdown.append(gateway.close)
    return app
