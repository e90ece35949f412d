"""Object-level authorization through the gateway against the real stack: real
objects of creator A and fan A (an offer, a payment, a payout account, a payout,
a refund, a notification), then every route that takes an object id, called with
A's ids as another creator and as another fan, answers as OBJECT_POLICY says,
and A's objects are unchanged afterwards.

The route table is the gateway's (as in the role matrix of
services/gateway/tests/integration/test_authorization_matrix.py): a route with an
id and no declared policy here fails the test."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from litestar.routes import HTTPRoute

from gateway.app import create_app
from gateway.settings import Settings
from tests.support.polling import eventually

from .conftest import Gateway, new_id
from .test_payouts import EUR, earn, onboard, refund, reserved_payout

OTHER_CREATOR, OTHER_FAN = "other creator", "other fan"
NOT_FOUND, FORBIDDEN = 404, 403  # the owning service hides what is not yours; a guard refuses a role

# (method, route) -> what another creator and another fan get for A's object.
OBJECT_POLICY: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/api/payments/{payment_id:str}"): {OTHER_CREATOR: NOT_FOUND, OTHER_FAN: NOT_FOUND},
    ("GET", "/api/payments/{payment_id:str}/refunds"): {OTHER_CREATOR: FORBIDDEN, OTHER_FAN: FORBIDDEN},
    ("POST", "/api/payments/{payment_id:str}/refunds"): {OTHER_CREATOR: FORBIDDEN, OTHER_FAN: FORBIDDEN},
    ("PATCH", "/api/offers/{offer_id:str}"): {OTHER_CREATOR: NOT_FOUND, OTHER_FAN: FORBIDDEN},
    ("POST", "/api/offers/{offer_id:str}/disable"): {OTHER_CREATOR: NOT_FOUND, OTHER_FAN: FORBIDDEN},
    ("GET", "/api/payouts/{payout_id:str}"): {OTHER_CREATOR: NOT_FOUND, OTHER_FAN: FORBIDDEN},
    ("POST", "/api/payouts/{payout_id:str}/cancel"): {OTHER_CREATOR: NOT_FOUND, OTHER_FAN: FORBIDDEN},
    ("GET", "/api/admin/payouts/{payout_id:str}/audit"): {OTHER_CREATOR: FORBIDDEN, OTHER_FAN: FORBIDDEN},
    ("POST", "/api/admin/payouts/{payout_id:str}/approve"): {OTHER_CREATOR: FORBIDDEN, OTHER_FAN: FORBIDDEN},
    ("POST", "/api/admin/payouts/{payout_id:str}/reject"): {OTHER_CREATOR: FORBIDDEN, OTHER_FAN: FORBIDDEN},
    ("POST", "/api/admin/payouts/{payout_id:str}/void"): {OTHER_CREATOR: FORBIDDEN, OTHER_FAN: FORBIDDEN},
    ("PATCH", "/api/notifications/{notification_id:str}/read"): {OTHER_CREATOR: NOT_FOUND, OTHER_FAN: NOT_FOUND},
    ("DELETE", "/api/notifications/{notification_id:str}"): {OTHER_CREATOR: NOT_FOUND, OTHER_FAN: NOT_FOUND},
    # a service's dead letters are admins' business only (its name is the "object")
    ("GET", "/api/admin/dead-letters/{service:str}"): {OTHER_CREATOR: FORBIDDEN, OTHER_FAN: FORBIDDEN},
    ("POST", "/api/admin/dead-letters/{service:str}/replay"): {OTHER_CREATOR: FORBIDDEN, OTHER_FAN: FORBIDDEN},
}
# Routes that name a creator in the query: another creator asking for A's is refused,
# or (the payout account, where a creator's `creator_id` is ignored) sees only their own,
# and they have none.
CREATOR_QUERY_POLICY: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/api/balance"): {OTHER_CREATOR: FORBIDDEN, OTHER_FAN: FORBIDDEN},
    ("GET", "/api/debts"): {OTHER_CREATOR: FORBIDDEN, OTHER_FAN: FORBIDDEN},
    ("GET", "/api/payouts/account"): {OTHER_CREATOR: NOT_FOUND, OTHER_FAN: FORBIDDEN},
}
# A body each route would accept from its rightful caller: the refusal is about who asks.
BODIES: dict[str, dict[str, Any]] = {
    "/api/offers/{offer_id:str}": {"title": "Taken over", "price_minor": 1},
    "/api/payments/{payment_id:str}/refunds": {"amount_minor": 100, "currency": EUR, "reason": "requested_by_customer"},
    "/api/admin/payouts/{payout_id:str}/reject": {"reason": "not yours to reject"},
    "/api/admin/payouts/{payout_id:str}/void": {"reason": "not yours to void"},
    "/api/admin/dead-letters/{service:str}/replay": {"all": True},
}
_PARAMETER = re.compile(r"\{(\w+):\w+\}")


def routes_with_an_id() -> set[tuple[str, str]]:
    routes = set()
    for route in create_app(Settings()).routes:
        if isinstance(route, HTTPRoute) and route.path.startswith("/api/") and _PARAMETER.search(route.path):
            for handler in route.route_handlers:
                routes |= {(method, route.path) for method in handler.http_methods - {"HEAD", "OPTIONS"}}
    return routes


@dataclass
class Owned:
    """Creator A's and fan A's objects, made through the public API."""

    creator: str
    fan: str
    ids: dict[str, str]  # path parameter name -> id


async def owned_objects(gateway: Gateway) -> Owned:
    creator = new_id("creator-a")
    await onboard(gateway, creator)  # the payout account
    intent = await earn(gateway, creator, 10000)  # an offer, fan A's payment, Stripe's confirmation
    payout = await reserved_payout(gateway, creator, 2000)
    await refund(gateway, intent, 1000)
    creator_auth = gateway.auth(creator, "creator")

    async def a_notification() -> str | None:
        listed = await gateway.http.get("/api/notifications", headers=creator_auth)
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        return items[0]["id"] if items else None

    payment = (await gateway.http.get(f"/api/payments/{intent['payment_id']}", headers=creator_auth)).json()
    return Owned(creator=creator, fan=payment["fan_id"], ids={
        "payment_id": intent["payment_id"], "offer_id": payment["offer_id"], "payout_id": payout["payout_id"],
        "notification_id": await eventually(a_notification),
        "service": "ledger",
    })


async def snapshot(gateway: Gateway, owned: Owned) -> dict[str, Any]:
    """What A sees of their objects: a call by someone else must change none of it.
    Only what such a call could change: the payment's own status and the balance
    may still move with the refund's events, and new notifications may arrive."""
    creator = gateway.auth(owned.creator, "creator")
    admin = gateway.auth(new_id("admin"), "admin")
    ids = owned.ids

    async def view(path: str, headers: dict[str, str]) -> Any:
        answer = await gateway.http.get(path, headers=headers)
        assert answer.status_code == 200, (path, answer.text)
        return answer.json()

    offer = next(o for o in (await view("/api/offers/mine", creator))["items"] if o["offer_id"] == ids["offer_id"])
    notifications = (await view("/api/notifications", creator))["items"]
    return {
        "offer": {key: offer[key] for key in ("title", "price_minor", "currency", "active")},
        "payout": (await view(f"/api/payouts/{ids['payout_id']}", creator))["status"],
        "refunds": sorted(r["refund_id"] for r in await view(f"/api/payments/{ids['payment_id']}/refunds", admin)),
        "notification": [n["read_at"] for n in notifications if n["id"] == ids["notification_id"]],
        "account": (await view("/api/payouts/account", creator))["stripe_account_id"],
    }


async def test_every_route_with_an_id_has_a_declared_object_policy(stack) -> None:
    assert routes_with_an_id() == set(OBJECT_POLICY)


async def test_another_creator_or_fan_gets_nothing_of_a_creators_and_a_fans_objects(gateway: Gateway) -> None:
    owned = await owned_objects(gateway)
    for role, owner in (("fan", owned.fan), ("creator", owned.creator)):  # a 404 below is about who asks
        seen = await gateway.http.get(f"/api/payments/{owned.ids['payment_id']}", headers=gateway.auth(owner, role))
        assert seen.status_code == 200, seen.text
    before = await snapshot(gateway, owned)
    others = {OTHER_CREATOR: gateway.auth(new_id("creator-b"), "creator"),
              OTHER_FAN: gateway.auth(new_id("fan-b"), "fan")}
    unexpected, calls = [], 0
    for (method, route), expected in sorted(OBJECT_POLICY.items()):
        names = _PARAMETER.findall(route)
        missing = [name for name in names if name not in owned.ids]
        assert not missing, f"{method} {route}: no object made for {missing}"
        url = _PARAMETER.sub(lambda m: owned.ids[m.group(1)], route)
        for who, headers in others.items():
            body = {"json": BODIES[route]} if route in BODIES else {}
            answer = await gateway.http.request(method, url, headers=headers, **body)
            calls += 1
            if answer.status_code != expected[who]:
                unexpected.append((method, route, who, answer.status_code, expected[who], answer.text[:200]))
    for (method, route), expected in sorted(CREATOR_QUERY_POLICY.items()):
        for who, headers in others.items():
            answer = await gateway.http.request(method, route, params={"creator_id": owned.creator}, headers=headers)
            calls += 1
            if answer.status_code != expected[who]:
                unexpected.append((method, route, who, answer.status_code, expected[who], answer.text[:200]))
    assert unexpected == []
    assert calls == 2 * (len(OBJECT_POLICY) + len(CREATOR_QUERY_POLICY))
    assert await snapshot(gateway, owned) == before, "another caller changed A's objects"
