"""The gateway: JWT-authenticated /api routes forwarded to the services, Stripe
webhooks published to Kafka, health, OpenAPI."""

import contextlib
import re
from collections.abc import AsyncIterator
from uuid import uuid4

from litestar import Litestar, Request, Router
from litestar.datastructures import MutableScopeHeaders
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from common import logs, metrics, tracing
from common.http import CORRELATION_HEADER, health_routes, problem_details
from common.secrets import DEVELOPMENT
from gateway import console, dev_signin, webhooks
from gateway.auth import JWTAuthMiddleware, provide_who
from gateway.clients import Services
from gateway.headers import security_headers
from gateway.live import LiveHub
from gateway.proxies import TrustedProxies
from gateway.publisher import Publisher
from gateway.routes import admin, balance, debts, notifications, offers, payments, payouts, refunds
from gateway.settings import Settings
from gateway.validation import check_request

NAME = "gateway"
BEARER = "BearerToken"
_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_CORRELATION_STATE = "correlation_id"


def correlation_middleware(app: ASGIApp) -> ASGIApp:
    """Every request gets a correlation id (the caller's, if sane, else a new one),
    in the logs and on the internal calls; `echo_correlation_id` returns it."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        header = CORRELATION_HEADER.lower().encode()
        sent = next((v.decode("latin-1") for k, v in scope["headers"] if k == header), "")
        value = sent if _CORRELATION_ID.fullmatch(sent) else str(uuid4())
        scope.setdefault("state", {})[_CORRELATION_STATE] = value
        token = logs.correlation_id.set(value)
        try:
            await app(scope, receive, send)
        finally:
            logs.correlation_id.reset(token)

    return middleware


def user_of(request: Request) -> str:
    return f"user:{request.user.user_id}"


def per_client_address(proxies: TrustedProxies, limit: int, store: str) -> RateLimitConfig:
    """Counted per client address, resolved through the trusted proxies only:
    anyone else's X-Forwarded-For would let a caller pick a fresh count each time."""
    return RateLimitConfig(("minute", limit), store=store,
                           identifier_for_request=lambda request: f"ip:{proxies.client_address(request)}")


async def echo_correlation_id(message: Message, scope: Scope) -> None:
    # A before_send hook rather than a send wrapper in the middleware: errors raised
    # by middleware (401, 429) are answered outside it, but every answer passes here.
    value = scope.get("state", {}).get(_CORRELATION_STATE)
    if message["type"] == "http.response.start" and value:
        MutableScopeHeaders.from_message(message)[CORRELATION_HEADER] = value


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    logs.configure(NAME, settings.log_level)
    tracing.configure(NAME)
    publisher = Publisher(settings.kafka_access(), client_id=NAME,
                          publish_timeout_s=settings.kafka_publish_timeout_s)
    services = Services.from_settings(settings)
    live = LiveHub(settings.kafka_access(), client_id=f"{NAME}-live",
                   max_streams_per_user=settings.max_streams_per_user)
    proxies = settings.proxies()

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        publisher.start()
        live.start()
        try:
            with metrics.served_apart(settings.host, settings.metrics_port):
                yield
        finally:
            await live.stop()
            await publisher.stop()
            await services.aclose()
            tracing.shutdown()

    sensitive = Router(
        "/",
        route_handlers=[*refunds.sensitive_route_handlers, *payouts.sensitive_route_handlers],
        # Inside the API router, so after authentication: counted per user, not per address.
        middleware=[RateLimitConfig(("minute", settings.sensitive_rate_limit_per_minute),
                                    store="rate_limit_sensitive", identifier_for_request=user_of).middleware],
    )
    api = Router(
        "/api",
        route_handlers=[*payments.route_handlers, *offers.route_handlers, *refunds.route_handlers, sensitive,
                        *admin.route_handlers, *balance.route_handlers, *debts.route_handlers,
                        *notifications.route_handlers, *payouts.route_handlers],
        middleware=[
            # Before authentication, so a flood of bad tokens is throttled too.
            per_client_address(proxies, settings.rate_limit_per_minute, "rate_limit_api").middleware,
            DefineMiddleware(JWTAuthMiddleware, secret=settings.jwt_secret,
                             max_lifetime_s=settings.max_token_lifetime_s),
        ],
        before_request=check_request,
        dependencies={"who": Provide(provide_who, sync_to_thread=False)},
        security=[{BEARER: []}],
    )
    readiness = {"kafka": publisher.reachable} | {
        service.name: service.healthy for service in services.all()
    }
    stripe = Router(
        "/", route_handlers=webhooks.route_handlers,
        middleware=[per_client_address(proxies, settings.webhook_rate_limit_per_minute,
                                       "rate_limit_webhooks").middleware],
    )
    # Tokens for anyone, on request: a development convenience that must not exist in production.
    dev_only = [dev_signin.mint_dev_token] if settings.environment in DEVELOPMENT else []
    return Litestar(
        route_handlers=[api, stripe, *health_routes(readiness), *console.route_handlers(settings.console_path()),
                        *dev_only],
        dependencies={
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
            "publisher": Provide(lambda: publisher, use_cache=True, sync_to_thread=False),
            "services": Provide(lambda: services, use_cache=True, sync_to_thread=False),
            "live": Provide(lambda: live, use_cache=True, sync_to_thread=False),
        },
        plugins=[problem_details()],
        lifespan=[lifespan],
        middleware=[DefineMiddleware(tracing.http_middleware), DefineMiddleware(correlation_middleware),
                    DefineMiddleware(metrics.http_metrics_middleware)],
        logging_config=None,  # common.logs' JSON lines with the correlation id, not Litestar's
        before_send=[echo_correlation_id, security_headers(proxies, hsts_max_age_s=settings.hsts_max_age_s,
                                                           always_hsts=settings.always_hsts)],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Callastar API",
            version="1.0.0",
            path="/schema",
            components=Components(security_schemes={
                BEARER: SecurityScheme(type="http", scheme="bearer", bearer_format="JWT",
                                       description="HS256 JWT: iss=callastar, aud=callastar-api"),
            }),
        ),
    )
