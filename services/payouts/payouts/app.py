import asyncio

import stripe
from litestar import Litestar
from litestar.di import Provide

from common.service import Runtime, create_service_app
from payouts import admin_api, api, approval
from payouts.handlers import Needs, handlers
from payouts.settings import Settings
from payouts.stripe_gateway import StripeGateway


def create_app(settings: Settings | None = None, *, stripe_http_client: stripe.HTTPClient | None = None) -> Litestar:
    """`stripe_http_client` replaces the SDK's HTTPX client (tests record requests with it)."""
    settings = settings or Settings()
    gateway = StripeGateway(settings.stripe_api_key, settings.stripe_api_base, http_client=stripe_http_client)

    async def start_resuming(runtime: Runtime) -> list[asyncio.Task]:
        if settings.resume_stalled_every_seconds <= 0:
            return []
        loop = approval.resume_stalled_forever(runtime.db, gateway, settings.resume_stalled_every_seconds)
        return [asyncio.create_task(loop, name="payouts-resume-stalled")]

    app = create_service_app(
        "payouts",
        settings,
        route_handlers=[*api.route_handlers, *admin_api.route_handlers],
        handlers=handlers,
        needs=lambda runtime: Needs(stripe=gateway),
        exception_handlers=api.exception_handlers,
        extra_dependencies={"stripe_gateway": Provide(lambda: gateway, sync_to_thread=False)},
        on_start=start_resuming,
    )
    app.on_shutdown.append(gateway.close)
    return app
