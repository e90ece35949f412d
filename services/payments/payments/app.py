import asyncio

import stripe
from litestar import Litestar
from litestar.di import Provide

from common.service import Runtime, create_service_app
from payments import admin_api, api, offers_api, refunds_api, refunds_reconciler
from payments.handlers import Needs, handlers
from payments.settings import Settings
from payments.stripe_gateway import StripeGateway


def create_app(settings: Settings | None = None, *, stripe_http_client: stripe.HTTPClient | None = None) -> Litestar:
    """`stripe_http_client` replaces the SDK's HTTPX client (tests record requests with it)."""
    settings = settings or Settings()
    gateway = StripeGateway(settings.stripe_api_key, settings.stripe_api_base, http_client=stripe_http_client)

    async def start_reconciling(runtime: Runtime) -> list[asyncio.Task]:
        if settings.refund_reconcile_every_seconds <= 0:
            return []
        loop = refunds_reconciler.reconcile_forever(
            runtime.db, gateway, refunds_reconciler.Bounds.of(settings), settings.refund_reconcile_every_seconds
        )
        return [asyncio.create_task(loop, name="payments-refund-reconciler")]

    app = create_service_app(
        "payments",
        settings,
        route_handlers=[*api.route_handlers, *offers_api.route_handlers, *refunds_api.route_handlers,
                        *admin_api.route_handlers],
        handlers=handlers,
        needs=lambda runtime: Needs(stripe=gateway),
        exception_handlers={**api.exception_handlers, **refunds_api.exception_handlers},
        extra_dependencies={"stripe_gateway": Provide(lambda: gateway, sync_to_thread=False)},
        on_start=start_reconciling,
    )
    app.on_shutdown.append(gateway.close)
    return app
