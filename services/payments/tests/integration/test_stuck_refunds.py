"""Refunds stuck PENDING without a Stripe id after a retryable Stripe error
(issue 11, section 4): the reconciler finds or makes them at Stripe, or fails
them at its deadline; admins see them meanwhile. Real PostgreSQL, Kafka and
stripe-mock (which knows none of our refunds: its list never names ours)."""

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from payments import refunds_reconciler
from payments.refunds_reconciler import Bounds, Outcome
from payments.stripe_gateway import StripeGateway
from services.payments.tests.integration.test_refunds import events, paid, refunds_of  # noqa: F401 - fixture
from services.payments.tests.integration.test_stripe_events import deliver, producer  # noqa: F401 - fixtures
from tests.support.stripe_recording import RecordingStripeHttp

DOWN = (503, {"error": {"type": "api_error", "message": "Stripe is down"}})


@pytest.fixture
async def reconciler(payments_settings):
    """A reconciler pass on the test's own Stripe client, recording what it sends."""
    recorder = RecordingStripeHttp()
    gateway = StripeGateway(payments_settings.stripe_api_key, payments_settings.stripe_api_base, http_client=recorder)

    async def run_pass(db) -> dict[uuid.UUID, Outcome]:
        return await refunds_reconciler.reconcile(db, gateway, Bounds.of(payments_settings))

    run_pass.stripe = recorder
    yield run_pass
    await gateway.close()


async def stuck_refund(client, as_user, stripe_http, opened: dict, amount: int) -> dict:
    """Stripe out of reach on every attempt (the SDK retries 503s with the same key)."""
    stripe_http.refusals.extend([DOWN] * 3)
    response = await client.post(f"/payments/{opened['payment_id']}/refunds", headers=as_user("admin"),
                                 json={"amount_minor": amount})
    assert response.status_code == 502, response.text
    assert response.json()["retryable"] is True
    refund = response.json()["refund"]
    assert (refund["status"], refund["stripe_refund_id"]) == ("PENDING", None)
    return refund


async def aged(db, refund_id: str, age: timedelta) -> None:
    """What `age` without news looks like."""
    async with db.transaction() as session:
        await session.execute(
            sa.text("UPDATE refunds SET created_at = created_at - make_interval(secs => :age) WHERE id = :id"),
            {"age": age.total_seconds(), "id": uuid.UUID(refund_id)},
        )


async def test_a_refund_stuck_after_a_retryable_error_blocks_its_amount_until_the_reconciler_makes_it(
    db, client, as_user, stripe_http, paid, reconciler  # noqa: F811
):
    opened = await paid(10_000)
    refund = await stuck_refund(client, as_user, stripe_http, opened, 10_000)
    blocked = await client.post(f"/payments/{opened['payment_id']}/refunds", headers=as_user("admin"),
                                json={"amount_minor": 10_000})
    assert blocked.status_code == 422  # the stuck refund holds the whole price

    # Too young to be stuck: its API call might still be running.
    assert uuid.UUID(refund["refund_id"]) not in await reconciler(db)
    await aged(db, refund["refund_id"], timedelta(minutes=10))

    # Admins see it, with when the reconciler gives up on it; nobody else does.
    view = await client.get("/admin/refunds/stuck", headers=as_user("admin"))
    assert view.status_code == 200, view.text
    [listed] = [r for r in view.json()["items"] if r["refund_id"] == refund["refund_id"]]
    assert listed["payment_id"] == opened["payment_id"] and listed["amount_minor"] == 10_000
    assert listed["payment_intent_id"] == opened["stripe_payment_intent_id"]
    assert listed["stuck_for_seconds"] >= 600 and listed["give_up_at"]
    assert (await client.get("/admin/refunds/stuck", headers=as_user("creator"))).status_code == 403

    # Stripe still down for the creation: nothing is decided, next pass.
    reconciler.stripe.refusals.extend([DOWN] * 3)
    assert (await reconciler(db))[uuid.UUID(refund["refund_id"])] is Outcome.LATER
    [row] = await refunds_of(db, opened["payment_id"])
    assert (row.status, row.stripe_refund_id) == ("PENDING", None)

    assert (await reconciler(db))[uuid.UUID(refund["refund_id"])] is Outcome.RESOLVED
    [row] = await refunds_of(db, opened["payment_id"])
    assert row.status == "SUCCEEDED" and row.stripe_refund_id and row.creator_clawback_minor == 8_500
    [created] = await events(db, "refund.created", opened["payment_id"])
    assert created["refund_id"] == refund["refund_id"] and created["amount_minor"] == 10_000
    # Each pass first looked for ours among the payment's refunds (Stripe cannot be asked by
    # idempotency key), then created it with the key of the first try: Stripe answers the same refund.
    key = f"refund:{refund['refund_id']}"
    calls = [(r.method.lower(), urlsplit(r.url).path, r.headers.get("Idempotency-Key"))
             for r in reconciler.stripe.requests
             if opened["stripe_payment_intent_id"] in r.url or r.headers.get("Idempotency-Key") == key]
    assert calls == [("get", "/v1/refunds", None)] + [("post", "/v1/refunds", key)] * 3 + [
        ("get", "/v1/refunds", None), ("post", "/v1/refunds", key)]
    view = await client.get("/admin/refunds/stuck", headers=as_user("admin"))
    assert refund["refund_id"] not in [r["refund_id"] for r in view.json()["items"]]


async def test_a_refund_stripe_never_made_is_failed_at_the_deadline_and_admins_are_told(
    db, client, as_user, stripe_http, paid, reconciler, payments_settings  # noqa: F811
):
    opened = await paid(10_000)
    refund = await stuck_refund(client, as_user, stripe_http, opened, 4_000)
    await aged(db, refund["refund_id"], Bounds.of(payments_settings).give_up_after + timedelta(minutes=1))

    assert (await reconciler(db))[uuid.UUID(refund["refund_id"])] is Outcome.FAILED

    [row] = await refunds_of(db, opened["payment_id"])
    assert (row.status, row.failure_reason, row.stripe_refund_id) == ("FAILED", "not_made_at_stripe", None)
    [failed] = await events(db, "refund.failed", opened["payment_id"])  # admins are notified of it
    assert (failed["refund_id"], failed["was_succeeded"], failed["failure_reason"]) == (
        refund["refund_id"], False, "not_made_at_stripe")
    looked = [r for r in reconciler.stripe.requests if opened["stripe_payment_intent_id"] in r.url]
    assert [r.method.lower() for r in looked] == ["get"]
    assert not reconciler.stripe.with_key(f"refund:{refund['refund_id']}")  # made nothing
    again = await client.post(f"/payments/{opened['payment_id']}/refunds", headers=as_user("admin"),
                              json={"amount_minor": 10_000})
    assert again.status_code == 202, again.text  # the whole price is refundable again
