"""POST /payments/intents and GET /payments/{id} against real PostgreSQL and stripe-mock."""

import uuid

import sqlalchemy as sa

from payments.models import Payment


def intent_body(**overrides):
    return {"creator_id": f"creator-{uuid.uuid4().hex[:8]}", "price_minor": 10_000, "currency": "EUR",
            "offer_id": f"offer-{uuid.uuid4().hex[:8]}", **overrides}


async def load(db, payment_id) -> Payment:
    async with db.transaction() as session:
        return await session.get(Payment, uuid.UUID(payment_id))


async def test_creating_an_intent_opens_a_pending_payment_and_a_stripe_intent(db, client, as_user, stripe_http):
    fan = as_user("fan")
    body = intent_body(price_minor=9_999)

    response = await client.post("/payments/intents", json=body, headers=fan)

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
        "PENDING", fan["X-User-Id"], body["creator_id"], body["offer_id"])
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
        "metadata[creator_id]": body["creator_id"],
        "metadata[fan_id]": fan["X-User-Id"],
        "metadata[offer_id]": body["offer_id"],
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
    fan = as_user("fan") | {"Idempotency-Key": uuid.uuid4().hex}
    body = intent_body()

    first = await client.post("/payments/intents", json=body, headers=fan)
    again = await client.post("/payments/intents", json=body, headers=fan)

    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json()["payment_id"] == first.json()["payment_id"]
    assert again.json()["stripe_payment_intent_id"] == first.json()["stripe_payment_intent_id"]
    assert again.json()["client_secret"]
    # one intent created at Stripe; the retry only read it back for its client secret
    assert len(stripe_http.for_payment(first.json()["payment_id"])) == 1
    async with db.transaction() as session:
        count = await session.scalar(
            sa.select(sa.func.count()).select_from(Payment).where(Payment.fan_id == fan["X-User-Id"])
        )
    assert count == 1


async def test_an_idempotency_key_reused_for_another_payment_is_a_conflict(client, as_user):
    fan = as_user("fan") | {"Idempotency-Key": uuid.uuid4().hex}
    assert (await client.post("/payments/intents", json=intent_body(), headers=fan)).status_code == 201

    response = await client.post("/payments/intents", json=intent_body(), headers=fan)

    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_stripe_refusal_fails_the_payment_and_answers_502(db, client, as_user, stripe_http):
    fan = as_user("fan")
    stripe_http.refusals.append((400, {"error": {
        "type": "invalid_request_error", "code": "amount_too_small", "message": "Amount must be at least 0.50 eur"}}))

    response = await client.post("/payments/intents", json=intent_body(), headers=fan)

    assert response.status_code == 502
    problem = response.json()
    assert (problem["status"], problem["code"]) == (502, "amount_too_small")
    assert "at least" not in response.text  # Stripe's own words are never passed on
    async with db.transaction() as session:
        row = await session.scalar(sa.select(Payment).where(Payment.fan_id == fan["X-User-Id"]))
    assert (row.status, row.failure_code, row.stripe_payment_intent_id) == ("FAILED", "amount_too_small", None)
    shown = await client.get(f"/payments/{row.id}", headers=fan)
    assert shown.json()["failure_message"] == "Stripe refused the call (amount_too_small)"


async def test_stripe_out_of_reach_answers_502_and_leaves_the_payment_pending(db, client, as_user, stripe_http):
    fan = as_user("fan")
    # 503s are retried by the SDK with the same idempotency key: refuse every attempt
    stripe_http.refusals.extend([(503, {"error": {"type": "api_error", "message": "down"}})] * 3)

    response = await client.post("/payments/intents", json=intent_body(), headers=fan)

    assert response.status_code == 502
    assert stripe_http.refusals == []
    async with db.transaction() as session:
        row = await session.scalar(sa.select(Payment).where(Payment.fan_id == fan["X-User-Id"]))
    attempts = stripe_http.for_payment(str(row.id))
    assert len(attempts) == 3
    assert {a.headers["Idempotency-Key"] for a in attempts} == {f"payment-intent:{row.id}"}
    assert (row.status, row.stripe_payment_intent_id) == ("PENDING", None)


async def test_an_unsupported_currency_is_refused_with_problem_details(client, as_user):
    response = await client.post("/payments/intents", json=intent_body(currency="JPY"), headers=as_user("fan"))

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "JPY" in response.json()["detail"]


async def test_a_price_below_the_minimum_is_refused(client, as_user):
    response = await client.post("/payments/intents", json=intent_body(price_minor=49), headers=as_user("fan"))

    assert response.status_code == 422


async def test_a_price_that_is_not_an_integer_is_a_bad_request(client, as_user):
    for price in ("1000", 1000.0, 10.5, True):
        response = await client.post("/payments/intents", json=intent_body(price_minor=price), headers=as_user("fan"))
        assert response.status_code == 400, price
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_only_a_fan_opens_a_payment(client, as_user):
    for role in ("creator", "admin"):
        response = await client.post("/payments/intents", json=intent_body(), headers=as_user(role))
        assert response.status_code == 403, role


async def test_without_the_internal_token_nothing_is_created(client, as_user):
    headers = as_user("fan") | {"X-Internal-Token": "wrong"}

    response = await client.post("/payments/intents", json=intent_body(), headers=headers)

    assert response.status_code == 401


async def test_a_payment_is_visible_to_its_fan_its_creator_and_admins_only(client, as_user):
    fan = as_user("fan")
    body = intent_body()
    payment_id = (await client.post("/payments/intents", json=body, headers=fan)).json()["payment_id"]

    for viewer in (fan, as_user("creator", body["creator_id"]), as_user("admin")):
        response = await client.get(f"/payments/{payment_id}", headers=viewer)
        assert response.status_code == 200, viewer
        assert response.json()["payment_id"] == payment_id
        assert "client_secret" not in response.json()
    for stranger in (as_user("fan"), as_user("creator")):
        assert (await client.get(f"/payments/{payment_id}", headers=stranger)).status_code == 404
