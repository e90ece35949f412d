"""The server owns prices, end to end: a creator's offer through the gateway, a fan
paying for it, Stripe reporting what it received."""

import asyncio
import uuid
from typing import Any

from tests.support.offers import open_intent
from tests.support.polling import eventually

from .conftest import Gateway, new_id, payment_intent_succeeded


async def test_a_fan_pays_the_price_of_the_offer_not_one_of_their_own(gateway: Gateway) -> None:
    creator, fan = new_id("creator"), new_id("fan")
    offer = await gateway.create_offer(creator, 6000)

    public = await gateway.http.get("/api/offers", params={"creator_id": creator})  # no login
    assert [o["offer_id"] for o in public.json()["items"]] == [offer["offer_id"]]
    cheap = await gateway.http.post("/api/payments/intents", headers=gateway.auth(fan, "fan"),
                                    json={"offer_id": offer["offer_id"], "price_minor": 50, "currency": "EUR"})
    assert cheap.status_code == 400
    intent = (await open_intent(gateway.http, gateway.auth(fan, "fan"), offer["offer_id"])).json()
    assert intent["amounts"] == {"price_minor": 6000, "creator_share_minor": 5100, "platform_fee_minor": 900,
                                 "currency": "EUR"}

    disabled = await gateway.http.post(f"/api/offers/{offer['offer_id']}/disable",
                                       headers=gateway.auth(creator, "creator"))
    assert disabled.status_code == 200
    refused = await open_intent(gateway.http, gateway.auth(new_id("fan"), "fan"), offer["offer_id"])
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await gateway.http.get("/api/offers", params={"creator_id": creator})).json()["items"] == []


async def test_a_retried_intent_request_through_the_gateway_gets_the_same_payment_intent(
    gateway: Gateway, databases
) -> None:
    fan = gateway.auth(new_id("fan"), "fan")
    offer = await gateway.create_offer(new_id("creator"), 2500)
    key = uuid.uuid4().hex

    first, retried = await asyncio.gather(*(open_intent(gateway.http, fan, offer["offer_id"], idempotency_key=key)
                                            for _ in range(2)))
    again = await open_intent(gateway.http, fan, offer["offer_id"], idempotency_key=key)

    assert {first.status_code, retried.status_code, again.status_code} == {201}
    assert first.json()["payment_id"] == retried.json()["payment_id"] == again.json()["payment_id"]
    assert first.json()["stripe_payment_intent_id"] == again.json()["stripe_payment_intent_id"]
    opened = await databases["payments"].fetchval("SELECT count(*) FROM payments WHERE offer_id = $1",
                                                  offer["offer_id"])
    assert opened == 1


async def test_a_success_for_less_than_the_price_credits_nothing_and_tells_the_admins(
    gateway: Gateway, databases
) -> None:
    creator, admin = new_id("creator"), new_id("admin")
    intent = await gateway.create_intent(new_id("fan"), creator, 10000)
    short = payment_intent_succeeded(intent)
    short["data"]["object"]["amount_received"] = 50

    assert (await gateway.send_webhook(short)).status_code == 200

    async def admins_told() -> list[dict[str, Any]]:
        listing = (await gateway.http.get("/api/notifications", headers=gateway.auth(admin, "admin"),
                                          params={"type": "PAYMENT_NEEDS_REVIEW", "limit": 100})).json()
        return [n for n in listing["items"] if intent["payment_id"] in n["body"]]

    [told] = await eventually(admins_told)
    assert (told["recipient_role"], told["link"]) == ("admin", f"/payments/{intent['payment_id']}")
    payment = await gateway.http.get(f"/api/payments/{intent['payment_id']}", headers=gateway.auth(admin, "admin"))
    assert payment.json()["status"] == "NEEDS_REVIEW"
    assert payment.json()["review_reason"]
    entries = await databases["ledger"].fetchval("SELECT count(*) FROM journal_entries WHERE creator_id = $1", creator)
    assert entries == 0
    assert await gateway.balance(creator) == {}
    creator_items = (await gateway.http.get("/api/notifications", headers=gateway.auth(creator, "creator"))).json()
    assert creator_items["items"] == []
