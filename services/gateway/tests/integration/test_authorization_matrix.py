"""The authorization matrix of the public API, generated from the app's route
table: every route x {no token, expired, wrong audience, wrong issuer, alg none,
fan, creator, admin} answers as the policy below says, with nothing unexpected.

The policy is declared here, not read from the code, so a new route without a
declared policy fails the test. The "other creator" and "other fan" columns (A's
real objects asked for by B) need the real stack: tests/e2e/test_object_authorization.py."""

from __future__ import annotations

import re
import time

import jwt
import pytest
from litestar.routes import HTTPRoute

from gateway.app import create_app
from gateway.auth import ALGORITHM, AUDIENCE, ISSUER
from gateway.settings import Settings

from .conftest import FakeService

PUBLIC = "public"  # no token needed
ANY = frozenset({"fan", "creator", "admin"})
FAN, CREATOR, ADMIN = frozenset({"fan"}), frozenset({"creator"}), frozenset({"admin"})
CREATOR_OR_ADMIN = CREATOR | ADMIN

POLICY: dict[tuple[str, str], frozenset[str] | str] = {
    ("POST", "/api/payments/intents"): FAN,
    ("GET", "/api/payments/{payment_id:str}"): ANY,  # the payments service answers 404 to strangers
    ("POST", "/api/payments/{payment_id:str}/refunds"): ADMIN,
    ("GET", "/api/payments/{payment_id:str}/refunds"): ADMIN,
    ("POST", "/api/offers"): CREATOR,
    ("GET", "/api/offers"): PUBLIC,
    ("GET", "/api/offers/mine"): CREATOR,
    ("PATCH", "/api/offers/{offer_id:str}"): CREATOR,
    ("POST", "/api/offers/{offer_id:str}/disable"): CREATOR,
    ("GET", "/api/balance"): CREATOR_OR_ADMIN,
    ("GET", "/api/debts"): CREATOR_OR_ADMIN,
    ("GET", "/api/admin/refunds"): ADMIN,
    ("GET", "/api/admin/refunds/stats"): ADMIN,
    ("GET", "/api/admin/refunds/stuck"): ADMIN,
    ("GET", "/api/admin/disputes"): ADMIN,
    ("GET", "/api/admin/disputes/stats"): ADMIN,
    ("GET", "/api/admin/dead-letters/{service:str}"): ADMIN,
    ("POST", "/api/admin/dead-letters/{service:str}/replay"): ADMIN,
    ("GET", "/api/payouts/account"): CREATOR_OR_ADMIN,
    ("POST", "/api/payouts/account"): CREATOR,
    ("GET", "/api/payouts"): CREATOR,
    ("POST", "/api/payouts"): CREATOR,
    ("GET", "/api/payouts/{payout_id:str}"): CREATOR_OR_ADMIN,
    ("POST", "/api/payouts/{payout_id:str}/cancel"): CREATOR,
    ("GET", "/api/admin/payouts"): ADMIN,
    ("GET", "/api/admin/payouts/stats"): ADMIN,
    ("GET", "/api/admin/payouts/{payout_id:str}/audit"): ADMIN,
    ("POST", "/api/admin/payouts/{payout_id:str}/approve"): ADMIN,
    ("POST", "/api/admin/payouts/{payout_id:str}/reject"): ADMIN,
    ("POST", "/api/admin/payouts/{payout_id:str}/void"): ADMIN,
    ("GET", "/api/notifications"): ANY,
    ("GET", "/api/notifications/unread-count"): ANY,
    ("PATCH", "/api/notifications/{notification_id:str}/read"): ANY,
    ("PATCH", "/api/notifications/read-all"): ANY,
    ("DELETE", "/api/notifications/{notification_id:str}"): ANY,
    ("GET", "/api/notifications/preferences"): ANY,
    ("PUT", "/api/notifications/preferences"): ANY,
    ("GET", "/api/notifications/stream"): ANY,
    ("GET", "/api/notifications/unsubscribe"): PUBLIC,  # the link's signed token is the credential
    ("POST", "/api/notifications/unsubscribe"): PUBLIC,
}
STREAMS = {("GET", "/api/notifications/stream")}  # an allowed caller would hold it open: not probed as one


@pytest.fixture
def gateway_settings(gateway_settings: Settings) -> Settings:
    return gateway_settings.model_copy(update={"rate_limit_per_minute": 100_000,
                                               "sensitive_rate_limit_per_minute": 100_000})


def api_routes(settings: Settings) -> set[tuple[str, str]]:
    routes = set()
    for route in create_app(settings).routes:
        if isinstance(route, HTTPRoute) and route.path.startswith("/api/"):
            for handler in route.route_handlers:
                routes |= {(method, route.path) for method in handler.http_methods - {"HEAD", "OPTIONS"}}
    return routes


def claims(role: str, **changes) -> dict:
    now = int(time.time())
    return {"sub": f"{role}-1", "role": role, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600,
            **changes}


def untrusted_tokens(secret: str) -> dict[str, dict[str, str]]:
    """Each way a caller can fail to be someone, as request headers."""
    now = int(time.time())
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}
    return {
        "no token": {},
        "expired": bearer(jwt.encode(claims("admin", iat=now - 7200, exp=now - 3600), secret, algorithm=ALGORITHM)),
        "wrong audience": bearer(jwt.encode(claims("admin", aud="another-api"), secret, algorithm=ALGORITHM)),
        "wrong issuer": bearer(jwt.encode(claims("admin", iss="someone-else"), secret, algorithm=ALGORITHM)),
        "alg none": bearer(jwt.encode(claims("admin"), None, algorithm="none")),
        "another key": bearer(jwt.encode(claims("admin"), "x" * 40, algorithm=ALGORITHM)),
    }


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def test_every_public_route_has_a_declared_policy(gateway_settings):
    assert api_routes(gateway_settings) == set(POLICY)


async def test_the_matrix(gateway, gateway_settings, fake_service: FakeService):
    unexpected = []
    for (method, path), allowed in sorted(POLICY.items()):
        url = concrete(path)
        body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        for who, headers in untrusted_tokens(gateway_settings.jwt_secret).items():
            status = (await gateway.request(method, url, headers=headers, **body)).status_code
            if allowed != PUBLIC and status != 401:
                unexpected.append((method, path, who, status, 401))
        for role in sorted(ANY):
            if allowed == PUBLIC or ((method, path) in STREAMS and role in allowed):
                continue
            token = jwt.encode(claims(role), gateway_settings.jwt_secret, algorithm=ALGORITHM)
            status = (await gateway.request(method, url, headers={"Authorization": f"Bearer {token}"},
                                            **body)).status_code
            if role not in allowed and status != 403:
                unexpected.append((method, path, role, status, 403))
            if role in allowed and status in (401, 403):
                unexpected.append((method, path, role, status, "not 401/403"))
    assert unexpected == []
