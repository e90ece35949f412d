"""The published OpenAPI document is what the API really answers: one walk over
every public route through the real stack (a creator's catalogue, a fan's
payment, Stripe's webhooks, a refund, payouts requested, approved, canceled and
rejected, notifications). The e2e `gateway` client checks each answer against
the document the gateway serves (tests/support/contract.py); then no published
operation may be left unexercised."""

import uuid

from tests.support.contract import PublishedContract
from tests.support.polling import eventually
from tests.support.stripe_events import stripe_event

from .conftest import Gateway, new_id, payment_intent_succeeded
from .test_payouts import approve, balance_is, onboard, payout_where, request_payout


async def test_every_route_answers_as_published(gateway: Gateway, contract: PublishedContract) -> None:
    http = gateway.http
    creator, fan, admin = new_id("creator"), new_id("fan"), new_id("admin")
    as_creator, as_fan, as_admin = gateway.auth(creator, "creator"), gateway.auth(fan, "fan"), gateway.auth(admin, "admin")

    # A creator's catalogue, and what a fan sees of it.
    offer = (await http.post("/api/offers", headers=as_creator,
                             json={"title": "A call", "price_minor": 10000, "currency": "EUR"})).json()
    assert (await http.patch(f"/api/offers/{offer['offer_id']}", headers=as_creator,
                             json={"title": "A long call"})).status_code == 200
    assert (await http.get("/api/offers/mine", headers=as_creator)).status_code == 200
    assert (await http.get("/api/offers", params={"creator_id": creator})).status_code == 200
    refused = await http.post("/api/offers", headers=as_creator, json={"title": "t", "price_minor": "1", "currency": "EUR"})
    assert refused.status_code == 400 and refused.json()["extra"][0]["key"] == "price_minor", refused.text
    assert (await http.get("/api/balance")).status_code == 401

    # A fan pays; Stripe says so.
    intent = (await http.post("/api/payments/intents", headers=as_fan, json={"offer_id": offer["offer_id"]})).json()
    assert (await http.get(f"/api/payments/{intent['payment_id']}", headers=as_fan)).status_code == 200
    assert (await gateway.send_webhook(payment_intent_succeeded(intent))).status_code == 200
    await balance_is(gateway, creator, available_minor=8500)
    assert (await http.get("/api/balance", params={"creator_id": creator}, headers=as_admin)).status_code == 200
    assert (await http.get(f"/api/payments/{uuid.uuid4()}", headers=as_fan)).status_code == 404

    # An admin refunds part of it; the admin views.
    payment = f"/api/payments/{intent['payment_id']}/refunds"
    assert (await http.post(payment, headers=as_admin, json={"amount_minor": 1000})).status_code == 202
    assert (await http.get(payment, headers=as_admin)).status_code == 200
    for view in ("refunds", "disputes"):
        assert (await http.get(f"/api/admin/{view}", params={"creator_id": creator}, headers=as_admin)).status_code == 200
        assert (await http.get(f"/api/admin/{view}", params={"format": "csv"}, headers=as_admin)).status_code == 200
        assert (await http.get(f"/api/admin/{view}/stats", headers=as_admin)).status_code == 200
    assert (await http.get("/api/admin/refunds/stuck", headers=as_admin)).status_code == 200
    assert (await http.get("/api/debts", headers=as_creator)).status_code == 200
    await balance_is(gateway, creator, available_minor=7650)

    # Payouts: onboarding, a request (and its replay), approval, a cancel and a rejection.
    await onboard(gateway, creator)
    key = str(uuid.uuid4())
    first = await request_payout(gateway, creator, 2000, key)
    replay = await http.post("/api/payouts", headers=as_creator | {"Idempotency-Key": key},
                             json={"amount_minor": 2000, "currency": "EUR"})
    assert replay.status_code == 200, replay.text
    await payout_where(gateway, creator, first["payout_id"], funds_reserved=True)
    await approve(gateway, first["payout_id"], admin)
    assert (await http.get("/api/payouts", headers=as_creator)).status_code == 200
    assert (await http.get(f"/api/admin/payouts/{first['payout_id']}/audit", headers=as_admin)).status_code == 200
    assert (await http.get("/api/admin/payouts", params={"creator_id": creator}, headers=as_admin)).status_code == 200
    assert (await http.get("/api/admin/payouts", params={"format": "csv"}, headers=as_admin)).status_code == 200
    assert (await http.get("/api/admin/payouts/stats", headers=as_admin)).status_code == 200
    # Not APPROVED and stuck at Stripe: refused, as a problem.
    void = await http.post(f"/api/admin/payouts/{first['payout_id']}/void", headers=as_admin, json={"reason": "no"})
    assert void.status_code in (409, 422), void.text
    second = await request_payout(gateway, creator, 1000)
    await payout_where(gateway, creator, second["payout_id"], funds_reserved=True)  # a cancel waits for the ledger
    canceled = await http.post(f"/api/payouts/{second['payout_id']}/cancel", headers=as_creator)
    assert canceled.status_code == 200, canceled.text
    third = await request_payout(gateway, creator, 1000)
    await payout_where(gateway, creator, third["payout_id"], funds_reserved=True)
    rejected = await http.post(f"/api/admin/payouts/{third['payout_id']}/reject", headers=as_admin,
                               json={"reason": "bank details unverified"})
    assert rejected.status_code == 200, rejected.text

    # Notifications: what the payment and payouts told the creator.
    async def listed() -> list:
        return (await http.get("/api/notifications", headers=as_creator)).json()["items"]

    items = await eventually(listed)
    assert (await http.get("/api/notifications", params={"unread": "true", "type": "PAYMENT_RECEIVED"},
                           headers=as_creator)).status_code == 200
    assert (await http.get("/api/notifications/unread-count", headers=as_creator)).status_code == 200
    assert (await http.patch(f"/api/notifications/{items[0]['id']}/read", headers=as_creator)).status_code == 200
    assert (await http.patch("/api/notifications/read-all", headers=as_creator)).status_code == 200
    assert (await http.delete(f"/api/notifications/{items[0]['id']}", headers=as_creator)).status_code == 204
    assert (await http.get("/api/notifications/preferences", headers=as_creator)).status_code == 200
    assert (await http.put("/api/notifications/preferences", headers=as_creator,
                           json={"preferences": [{"type": "PAYOUT_PAID", "email": False}]})).status_code == 200
    for method in ("GET", "POST"):
        assert (await http.request(method, "/api/notifications/unsubscribe",
                                   params={"token": "forged"})).status_code == 400
    async with http.stream("GET", "/api/notifications/stream", headers=as_creator) as live:
        assert live.status_code == 200
    assert (await http.post(f"/api/offers/{offer['offer_id']}/disable", headers=as_creator)).status_code == 200
    account = stripe_event("account.updated", {"id": "acct_unknown", "object": "account"}, account="acct_unknown")
    assert (await gateway.send_webhook(account, connect=True)).status_code == 200
    await http.get("/api/payouts/account", params={"creator_id": new_id("creator")}, headers=as_admin)

    exercised = {(method, template) for method, template, _ in contract.seen}
    assert not contract.operations() - exercised, f"published but never exercised: {contract.operations() - exercised}"
