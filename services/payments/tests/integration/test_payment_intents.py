"""POST /payments/intents and GET /payments/{id} against real PostgreSQL and stripe-mock."""

import uuid

import sqlalchemy as sa

from payments.models import Payment
from tests.support.internal_calls import as_caller
from tests.support.offers import create_offer, open_intent


async def an_offer(client, as_user, price_minor: int = 10_000, currency: str = "EUR") -> dict:
    return await create_offer(client, as_user("creator"), price_minor, currency, prefix="")


async def pay(client, fan: dict, offer: dict, idempotency_key: str | None = None):
    return await open_intent(client, fan, offer["offer_id"], prefix="", idempotency_key=idempotency_key)


async def load(db, payment_id) -> Payment:
    async with db.transaction() as session:
        return await session.get(Payment, uuid.UUID(payment_id))


async def test_an_intent_for_an_offer_charges_the_offers_price_to_its_creator(db, client, as_user, stripe_http):
    fan = as_user("fan")
    offer = await an_offer(client, as_user, 9_999)

    response = await pay(client, fan, offer)

    assert response.status_code == 201, response.text
    answer = response.json()
    payment_id = answer["payment_id"]
    assert answer["status"] == "PENDING"
    assert answer["client_secret"].startswith("pi_")
    assert answer["stripe_payment_intent_id"].startswith("pi_")
    assert answer["amounts"] == {"price_minor": 9_999, "creator_share_minor": 8_500,
                                 "platform_fee_minor": 1_499, "currency": "EUR"}

    row = await load(db, payment_id)
    assert (row.status, row.fan_id, row.creator_id, row.offer_id) == (
        "PENDING", fan.user_id, offer["creator_id"], offer["offer_id"])
    amounts = (row.price_minor, row.creator_share_minor, row.platform_fee_minor, row.currency)
    assert amounts == (9_999, 8_500, 1_499, "EUR")
    assert row.stripe_payment_intent_id == answer["stripe_payment_intent_id"]

    [sent] = stripe_http.for_payment(payment_id)
    assert (sent.method, sent.url.split("?")[0].endswith("/v1/payment_intents")) == ("post", True)
    assert sent.headers["Idempotency-Key"] == f"payment-intent:{payment_id}"
    assert sent.params == {
        "amount": "9999",
        "currency": "eur",
        "automatic_payment_methods[enabled]": "true",
        "metadata[payment_id]": payment_id,
        "metadata[creator_id]": offer["creator_id"],
        "metadata[fan_id]": fan.user_id,
        "metadata[offer_id]": offer["offer_id"],
        "transfer_group": f"payment_{payment_id}",
    }


async def test_the_client_secret_is_never_stored(db):
    async with db.transaction() as session:
        columns = set(await session.scalars(
            sa.text("SELECT column_name FROM information_schema.columns WHERE table_name = 'payments'")
        ))
    assert "stripe_payment_intent_id" in columns  # the query does see the table
    assert not {c for c in columns if "secret" in c}


async def test_a_retry_with_the_same_idempotency_key_returns_the_same_payment(db, client, as_user, stripe_http):
    fan, key = as_user("fan"), uuid.uuid4().hex
    offer = await an_offer(client, as_user)

    first = await pay(client, fan, offer, key)
    again = await pay(client, fan, offer, key)

    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json()["payment_id"] == first.json()["payment_id"]
    assert again.json()["stripe_payment_intent_id"] == first.json()["stripe_payment_intent_id"]
    assert again.json()["client_secret"]
    # one intent created at Stripe; the retry only read it back for its client secret
    assert len(stripe_http.for_payment(first.json()["payment_id"])) == 1
    async with db.transaction() as session:
        count = await session.scalar(
            sa.select(sa.func.count()).select_from(Payment).where(Payment.fan_id == fan.user_id)
        )
    assert count == 1


async def test_an_idempotency_key_reused_for_another_offer_is_a_conflict(client, as_user):
    fan, key = as_user("fan"), uuid.uuid4().hex
    assert (await pay(client, fan, await an_offer(client, as_user), key)).status_code == 201

    response = await pay(client, fan, await an_offer(client, as_user), key)

    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_stripe_refusal_fails_the_payment_and_answers_502(db, client, as_user, stripe_http):
    fan = as_user("fan")
    stripe_http.refusals.append((400, {"error": {
        "type": "invalid_request_error", "code": "amount_too_small", "message": "Amount must be at least 0.50 eur"}}))

    response = await pay(client, fan, await an_offer(client, as_user))

    assert response.status_code == 502
    problem = response.json()
    assert (problem["status"], problem["code"]) == (502, "amount_too_small")
    assert "at least" not in response.text  # Stripe's own words are never passed on
    async with db.transaction() as session:
        row = await session.scalar(sa.select(Payment).where(Payment.fan_id == fan.user_id))
    assert (row.status, row.failure_code, row.stripe_payment_intent_id) == ("FAILED", "amount_too_small", None)
    shown = await client.get(f"/payments/{row.id}", headers=fan)
    assert shown.json()["failure_message"] == "Stripe refused the call (amount_too_small)"


async def test_stripe_out_of_reach_answers_502_and_leaves_the_payment_pending(db, client, as_user, stripe_http):
    fan = as_user("fan")
    # 503s are retried by the SDK with the same idempotency key: refuse every attempt
    offer = await an_offer(client, as_user)
    stripe_http.refusals.extend([(503, {"error": {"type": "api_error", "message": "down"}})] * 3)

    response = await pay(client, fan, offer)

    assert response.status_code == 502
    assert stripe_http.refusals == []
    async with db.transaction() as session:
        row = await session.scalar(sa.select(Payment).where(Payment.fan_id == fan.user_id))
    attempts = stripe_http.for_payment(str(row.id))
    assert len(attempts) == 3
    assert {a.headers["Idempotency-Key"] for a in attempts} == {f"payment-intent:{row.id}"}
    assert (row.status, row.stripe_payment_intent_id) == ("PENDING", None)


async def test_only_a_fan_opens_a_payment(client, as_user):
    offer = await an_offer(client, as_user)
    for role in ("creator", "admin"):
        response = await pay(client, as_user(role), offer)
        assert response.status_code == 403, role


async def test_without_an_identity_the_gateway_signed_for_payments_nothing_is_created(db, client, as_user):
    offer, fan = await an_offer(client, as_user), f"fan-{uuid.uuid4().hex[:8]}"
    unsigned = {"X-User-Id": fan, "X-User-Role": "fan"}
    forged = as_caller("payments", fan, "fan", key="not-the-signing-key-0123456789abcdef")
    for_the_ledger = as_caller("ledger", fan, "fan")

    for headers in (unsigned, forged, for_the_ledger):
        assert (await pay(client, headers, offer)).status_code == 401
    assert await count_payments(db, fan) == 0


async def test_a_payment_is_visible_to_its_fan_its_creator_and_admins_only(client, as_user):
    fan = as_user("fan")
    offer = await an_offer(client, as_user)
    payment_id = (await pay(client, fan, offer)).json()["payment_id"]

    for viewer in (fan, as_user("creator", offer["creator_id"]), as_user("admin")):
        response = await client.get(f"/payments/{payment_id}", headers=viewer)
        assert response.status_code == 200, viewer
        assert response.json()["payment_id"] == payment_id
        assert "client_secret" not in response.json()
    for stranger in (as_user("fan"), as_user("creator")):
        assert (await client.get(f"/payments/{payment_id}", headers=stranger)).status_code == 404


async def count_payments(db, fan_id: str) -> int:
    async with db.transaction() as session:
        return await session.scalar(sa.select(sa.func.count()).select_from(Payment).where(Payment.fan_id == fan_id))


async def test_the_fan_names_an_offer_and_sets_neither_the_price_nor_the_payee(db, client, as_user):
    fan = as_user("fan")
    offer = await an_offer(client, as_user, 10_000)
    cases = [
        {"offer_id": offer["offer_id"], "price_minor": 50, "currency": "EUR"},
        {"offer_id": offer["offer_id"], "creator_id": "creator-who-does-not-exist"},
        {"creator_id": offer["creator_id"], "price_minor": 50, "currency": "EUR"},
    ]
    for body in cases:
        response = await client.post("/payments/intents", json=body, headers=fan)
        assert response.status_code == 400, body
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await count_payments(db, fan.user_id) == 0


async def test_an_unknown_offer_is_a_404_problem(db, client, as_user):
    fan = as_user("fan")
    for offer_id in (str(uuid.uuid4()), "call-60min"):
        response = await pay(client, fan, {"offer_id": offer_id})
        assert response.status_code == 404, offer_id
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["title"] == "No such offer"
    assert await count_payments(db, fan.user_id) == 0


async def test_a_disabled_offer_is_a_409_problem(db, client, as_user):
    creator, fan = as_user("creator"), as_user("fan")
    offer = await create_offer(client, creator, 10_000, prefix="")
    assert (await client.post(f"/offers/{offer['offer_id']}/disable", headers=creator)).status_code == 200

    response = await pay(client, fan, offer)

    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["title"] == "Offer disabled"
    assert await count_payments(db, fan.user_id) == 0


async def test_a_creator_cannot_buy_their_own_offer(db, client, as_user):
    creator = as_user("creator")
    offer = await create_offer(client, creator, 10_000, prefix="")
    same_person_as_fan = as_user("fan", creator.user_id)

    response = await pay(client, same_person_as_fan, offer)

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await count_payments(db, creator.user_id) == 0


async def test_a_new_price_applies_to_new_intents_only(db, client, as_user):
    creator, fan, key = as_user("creator"), as_user("fan"), uuid.uuid4().hex
    offer = await create_offer(client, creator, 10_000, prefix="")
    before = (await pay(client, fan, offer, key)).json()

    changed = await client.patch(f"/offers/{offer['offer_id']}", json={"price_minor": 12_000}, headers=creator)
    assert changed.status_code == 200, changed.text
    retried = await pay(client, fan, offer, key)
    after = (await pay(client, as_user("fan"), offer)).json()

    assert before["amounts"]["price_minor"] == 10_000
    assert (await load(db, before["payment_id"])).price_minor == 10_000
    # a retry of the first request is the first payment, at the price the fan was shown
    assert retried.json()["payment_id"] == before["payment_id"]
    assert retried.json()["amounts"]["price_minor"] == 10_000
    assert after["amounts"] == {"price_minor": 12_000, "creator_share_minor": 10_200, "platform_fee_minor": 1_800,
                                "currency": "EUR"}


async def test_a_retry_after_the_offer_was_disabled_still_gets_its_payment(client, as_user):
    creator, fan, key = as_user("creator"), as_user("fan"), uuid.uuid4().hex
    offer = await create_offer(client, creator, 10_000, prefix="")
    first = (await pay(client, fan, offer, key)).json()
    await client.post(f"/offers/{offer['offer_id']}/disable", headers=creator)

    again = await pay(client, fan, offer, key)

    assert again.status_code == 201
    assert again.json()["stripe_payment_intent_id"] == first["stripe_payment_intent_id"]


async def test_idempotency_keys_are_per_fan(client, as_user):
    offer, key = await an_offer(client, as_user), uuid.uuid4().hex

    one = (await pay(client, as_user("fan"), offer, key)).json()
    other = (await pay(client, as_user("fan"), offer, key)).json()

    assert one["payment_id"] != other["payment_id"]
