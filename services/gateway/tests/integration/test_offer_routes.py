"""Offers and payment intents at the edge: what the gateway checks itself, and what
it passes on to the payments service (a fake one, over real HTTP)."""

import json

import pytest

from .test_api import bearer


async def test_a_fans_idempotency_key_reaches_the_payments_service(gateway, gateway_settings, fake_service):
    fan = bearer(gateway_settings, "fan-1", "fan")

    await gateway.post("/api/payments/intents", json={"offer_id": "off-1"}, headers=fan | {"Idempotency-Key": "k-42"})
    await gateway.post("/api/payments/intents", json={"offer_id": "off-1"}, headers=fan)

    with_key, without = fake_service.seen
    assert with_key.headers["idempotency-key"] == "k-42"
    assert with_key.identity.user_id == "fan-1"  # the service keeps keys per user
    assert "idempotency-key" not in without.headers


async def test_an_idempotency_key_longer_than_the_services_limit_is_refused_here(
    gateway, gateway_settings, fake_service
):
    response = await gateway.post("/api/payments/intents", json={"offer_id": "off-1"},
                                  headers=bearer(gateway_settings, "fan-1", "fan") | {"Idempotency-Key": "k" * 201})

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert fake_service.seen == []


@pytest.mark.parametrize("body", [
    {"offer_id": "off-1", "price_minor": 50, "currency": "EUR"},  # the fan does not set the price
    {"offer_id": "off-1", "creator_id": "creator-2"},  # nor the payee
    {"creator_id": "creator-2", "price_minor": 10_000, "currency": "EUR"},
    {"offer_id": "=HYPERLINK(\"http://evil\")"},  # would land in Stripe metadata, logs and exports
    {"offer_id": "off 1\nforged log line"},
    {"offer_id": 7},
])
async def test_an_intent_names_a_safe_offer_id_and_nothing_else(body, gateway, gateway_settings, fake_service):
    response = await gateway.post("/api/payments/intents", json=body,
                                  headers=bearer(gateway_settings, "fan-1", "fan"))

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert fake_service.seen == []


async def test_a_token_whose_subject_is_unsafe_is_refused(gateway, gateway_settings, fake_service):
    response = await gateway.post("/api/offers", json={"title": "t", "price_minor": 1000, "currency": "EUR"},
                                  headers=bearer(gateway_settings, "=cmd|' /C calc'!A0", "creator"))

    assert response.status_code == 401
    assert fake_service.seen == []


async def test_a_creator_manages_offers_through_the_payments_service(gateway, gateway_settings, fake_service):
    creator = bearer(gateway_settings, "creator-1", "creator")
    fake_service.reply("/offers", 201, {"offer_id": "o-1"})

    created = await gateway.post("/api/offers", json={"title": "Call", "price_minor": 5000, "currency": "EUR"},
                                 headers=creator)
    await gateway.get("/api/offers/mine", headers=creator)
    await gateway.patch("/api/offers/o-1", json={"price_minor": 6000}, headers=creator)
    await gateway.post("/api/offers/o-1/disable", headers=creator)

    assert created.status_code == 201
    assert [(s.method, s.path) for s in fake_service.seen] == [
        ("POST", "/offers"), ("GET", "/offers/mine"), ("PATCH", "/offers/o-1"), ("POST", "/offers/o-1/disable"),
    ]
    assert {s.identity.user_id for s in fake_service.seen} == {"creator-1"}
    assert json.loads(fake_service.seen[2].body) == {"price_minor": 6000}


async def test_only_creators_change_offers(gateway, gateway_settings, fake_service):
    fan = bearer(gateway_settings, "fan-1", "fan")

    statuses = [
        (await gateway.post("/api/offers", json={}, headers=fan)).status_code,
        (await gateway.patch("/api/offers/o-1", json={}, headers=fan)).status_code,
        (await gateway.post("/api/offers/o-1/disable", headers=fan)).status_code,
        (await gateway.get("/api/offers/mine", headers=fan)).status_code,
    ]

    assert statuses == [403] * 4
    assert fake_service.seen == []


async def test_anyone_reads_a_creators_active_offers_without_logging_in(gateway, fake_service):
    fake_service.reply("/offers", 200, {"items": []})

    response = await gateway.get("/api/offers", params={"creator_id": "creator-1"})

    assert (response.status_code, response.json()) == (200, {"items": []})
    [call] = fake_service.seen
    assert (call.method, call.path, call.query) == ("GET", "/offers", "creator_id=creator-1")


@pytest.mark.parametrize("creator_id", ["=1+1", "a b", "", "../admin"])
async def test_an_unsafe_creator_id_is_refused_at_the_edge(creator_id, gateway, fake_service):
    response = await gateway.get("/api/offers", params={"creator_id": creator_id})

    assert response.status_code == 400
    assert fake_service.seen == []


async def test_an_unsafe_offer_id_in_a_path_is_not_forwarded(gateway, gateway_settings, fake_service):
    response = await gateway.patch("/api/offers/%3Dcmd", json={}, headers=bearer(gateway_settings, "c-1", "creator"))

    assert response.status_code == 404
    assert fake_service.seen == []
