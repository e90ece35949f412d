"""Security headers on every answer of the gateway."""

from collections.abc import Awaitable, Callable

from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

from gateway.proxies import TrustedProxies

API_PREFIX = "/api/"


def security_headers(proxies: TrustedProxies, *, hsts_max_age_s: int,
                     always_hsts: bool) -> Callable[[Message, Scope], Awaitable[None]]:
    """A `before_send` hook. HSTS only on answers that went out over TLS (a
    browser ignores it on plain HTTP anyway, and a local plain-HTTP run must not
    pin itself), unless `always_hsts` says TLS ends somewhere we cannot see.
    Everything under /api is money or personal data: never stored by a cache."""

    async def add(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        if hsts_max_age_s > 0 and (always_hsts or _over_tls(proxies, scope)):
            headers["Strict-Transport-Security"] = f"max-age={hsts_max_age_s}; includeSubDomains"
        if scope.get("path", "").startswith(API_PREFIX):
            headers["Cache-Control"] = "no-store"

    return add


def _over_tls(proxies: TrustedProxies, scope: Scope) -> bool:
    return proxies.came_over_tls(ASGIConnection(scope))
