"""A fan's payment, end to end: gateway -> payments -> Stripe (mock) -> signed
webhook -> Kafka -> payments -> ledger and notifications -> gateway reads."""

import asyncio
import copy
import json
import time
import uuid

from contracts.events.stripe import StripeEventReceived
from tests.support.polling import eventually
from tests.support.stripe_events import sign_stripe_payload, stripe_event

from .conftest import Gateway, new_id, payment_intent_succeeded


async def payments_applied(databases, stripe_event_id: str) -> bool:
    """True once payments has applied (or ignored) the Stripe event: its inbox has it."""
    event_id = StripeEventReceived.event_id_for(stripe_event_id)
    return await databases["payments"].fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event_id) == 1


async def barrier(gateway: Gateway, databases, intent: dict) -> None:
    """Stripe events for one PaymentIntent share a partition, in order: once an
    event sent after the others is applied, every earlier one has been too."""
    marker = stripe_event("payment_intent.processing", {"id": intent["stripe_payment_intent_id"],
                                                        "object": "payment_intent"})
    assert (await gateway.send_webhook(marker)).status_code == 200
    await eventually(lambda: payments_applied(databases, marker["id"]))


async def test_fan_payment_credits_creator_and_notifies_them(gateway: Gateway, databases) -> None:
    fan, creator = new_id("fan"), new_id("creator")
    intent = await gateway.create_intent(fan, creator, 10000, "EUR")
    assert intent["amounts"] == {"price_minor": 10000, "creator_share_minor": 8500,
                                 "platform_fee_minor": 1500, "currency": "EUR"}
    assert intent["client_secret"]  # stripe-mock answers a fixture secret, not one of this intent

    response = await gateway.send_webhook(payment_intent_succeeded(intent))
    assert response.status_code == 200, response.text

    async def credited():
        balances = await gateway.balance(creator)
        return balances.get("EUR", {}).get("available_minor") == 8500 and balances

    balances = await eventually(credited)
    assert balances["EUR"] == {"currency": "EUR", "available_minor": 8500, "disputed_minor": 0,
                               "reserved_minor": 0, "debt_minor": 0, "payouts_blocked": False}

    creator_auth = gateway.auth(creator, "creator")

    async def notified():
        listing = (await gateway.http.get("/api/notifications", headers=creator_auth)).json()
        return listing["items"]

    items = await eventually(notified)
    assert [n["type"] for n in items] == ["PAYMENT_RECEIVED"]
    assert "85.00" in items[0]["body"]
    count = await gateway.http.get("/api/notifications/unread-count", headers=creator_auth)
    assert count.json() == {"unread": 1}

    payment = await databases["payments"].fetchrow(
        "SELECT status FROM payments WHERE id = $1", uuid.UUID(intent["payment_id"]))
    assert payment["status"] == "SUCCEEDED"

    # the fan sees nothing of the creator's money or notifications
    fan_view = await gateway.http.get("/api/balance", headers=gateway.auth(fan, "fan"))
    assert fan_view.status_code == 403


async def test_same_webhook_five_times_concurrently_moves_money_once(gateway: Gateway, databases) -> None:
    creator = new_id("creator")
    intent = await gateway.create_intent(new_id("fan"), creator, 2599, "EUR")
    event = payment_intent_succeeded(intent)

    responses = await asyncio.gather(*(gateway.send_webhook(event) for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    await barrier(gateway, databases, intent)

    async def credited():
        return (await gateway.balance(creator)).get("EUR", {}).get("available_minor") == 2210

    await eventually(credited)
    payment_id = intent["payment_id"]
    emitted = await databases["payments"].fetchval(
        "SELECT count(*) FROM outbox WHERE topic = 'payment.succeeded' AND convert_from(payload, 'UTF8')::jsonb -> 'data' ->> 'payment_id' = $1",
        payment_id)
    assert emitted == 1
    entries = await databases["ledger"].fetchval(
        "SELECT count(*) FROM journal_entries WHERE creator_id = $1", creator)
    assert entries == 1

    async def one_notification():
        return await databases["notifications"].fetchval(
            "SELECT count(*) FROM notifications WHERE recipient_user_id = $1", creator)

    assert await eventually(one_notification) == 1


async def test_bad_signatures_are_refused_and_change_nothing(gateway: Gateway, databases) -> None:
    creator = new_id("creator")
    intent = await gateway.create_intent(new_id("fan"), creator, 5000, "EUR")
    event = payment_intent_succeeded(intent)

    wrong_secret = await gateway.send_webhook(event, secret="whsec_not_ours")
    stale = await gateway.send_webhook(event, timestamp=int(time.time()) - 301)
    unsigned = await gateway.http.post("/webhooks/stripe", content=json.dumps(event).encode())
    for response in (wrong_secret, stale, unsigned):
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")

    await barrier(gateway, databases, intent)
    assert not await payments_applied(databases, event["id"])
    status = await databases["payments"].fetchval(
        "SELECT status FROM payments WHERE id = $1", uuid.UUID(intent["payment_id"]))
    assert status == "PENDING"


async def test_malformed_webhook_bodies_get_400(gateway: Gateway) -> None:
    not_json = b"{this is not json"
    secret = gateway.env["CALLASTAR_STRIPE_WEBHOOK_SECRET"]
    response = await gateway.http.post("/webhooks/stripe", content=not_json,
                                       headers={"Stripe-Signature": sign_stripe_payload(not_json, secret)})
    assert response.status_code == 400
    not_an_event = json.dumps({"hello": "world"}).encode()
    response = await gateway.http.post("/webhooks/stripe", content=not_an_event,
                                       headers={"Stripe-Signature": sign_stripe_payload(not_an_event, secret)})
    assert response.status_code == 400


async def test_unknown_stripe_event_type_is_accepted_and_ignored(gateway: Gateway, databases) -> None:
    creator = new_id("creator")
    intent = await gateway.create_intent(new_id("fan"), creator, 1000, "EUR")
    odd = copy.deepcopy(payment_intent_succeeded(intent))
    odd["type"] = "payment_intent.something_new"
    assert (await gateway.send_webhook(odd)).status_code == 200
    await eventually(lambda: payments_applied(databases, odd["id"]))
    status = await databases["payments"].fetchval(
        "SELECT status FROM payments WHERE id = $1", uuid.UUID(intent["payment_id"]))
    assert status == "PENDING"
    assert (await gateway.balance(creator)) == {}
