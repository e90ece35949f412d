"""Bodies unlike their published schema (gateway.schemas) are refused at the
edge: a 400 problem naming the field, and nothing reaches a service. Money is an
integer of minor units: never a string or a float, even one that looks whole."""

import json

import pytest

from .test_api import bearer

ROUTES = [
    ("POST", "/api/offers", "creator", {"title": "Call", "price_minor": 1000, "currency": "EUR"}),
    ("PATCH", "/api/offers/o-1", "creator", {"price_minor": 1000}),
    ("POST", "/api/payments/pay_1/refunds", "admin", {"amount_minor": 1000}),
    ("POST", "/api/payouts", "creator", {"amount_minor": 1000, "currency": "EUR"}),
]
NOT_INTEGERS = ["1000", 1000.0, True]
# A new offer needs a price; elsewhere null means "unchanged", "all that is left" or "all that is available".
MONEY_FIELDS = [(*ROUTES[0], "price_minor", amount) for amount in [*NOT_INTEGERS, None]] + [
    (*ROUTES[1], "price_minor", amount) for amount in NOT_INTEGERS] + [
    (*route, "amount_minor", amount) for route in ROUTES[2:] for amount in NOT_INTEGERS]


@pytest.mark.parametrize(("method", "path", "role", "body", "field", "amount"), MONEY_FIELDS)
async def test_money_that_is_not_an_integer_is_refused_here(
    gateway, gateway_settings, fake_service, method, path, role, body, field, amount
):
    response = await gateway.request(method, path, json={**body, field: amount},
                                     headers=bearer(gateway_settings, f"{role}-1", role))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [issue["key"] for issue in response.json()["extra"]] == [field]
    assert fake_service.seen == []


@pytest.mark.parametrize(("method", "path", "role", "body"), [
    *ROUTES,
    ("PUT", "/api/notifications/preferences", "creator", {"preferences": [{"type": "PAYOUT_PAID", "email": False}]}),
    ("POST", "/api/admin/payouts/p-1/reject", "admin", {"reason": "no"}),
    ("POST", "/api/payments/intents", "fan", {"offer_id": "off-1"}),
])
async def test_a_field_the_schema_does_not_name_is_refused_here(
    gateway, gateway_settings, fake_service, method, path, role, body
):
    response = await gateway.request(method, path, json={**body, "surprise": 1},
                                     headers=bearer(gateway_settings, f"{role}-1", role))
    assert response.status_code == 400, response.text
    assert "surprise" in response.text
    assert fake_service.seen == []


@pytest.mark.parametrize(("method", "path", "role", "body"), ROUTES)
async def test_a_body_as_published_is_passed_on_as_sent(
    gateway, gateway_settings, fake_service, method, path, role, body
):
    await gateway.request(method, path, json=body, headers=bearer(gateway_settings, f"{role}-1", role))
    [call] = fake_service.seen
    assert json.loads(call.body) == body
