"""Stripe events through the real consumer path: published to Kafka's
stripe.event.received, applied by the running app, observed in its database."""

import asyncio
import json
import time
import uuid

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer

from common.kafka import make_producer, publish
from common.tables import inbox, outbox
from contracts.events.stripe import StripeEventReceived, StripeEventReceivedData
from contracts.topics import STRIPE_EVENT_RECEIVED, dlq
from payments.models import Payment
from tests.support.offers import create_offer, open_intent


async def eventually(check, *, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check.__name__}")
        await asyncio.sleep(interval)
    return result


def stripe_event(
    event_type: str, intent: dict, *, stripe_event_id: str | None = None, created: int | None = None
) -> StripeEventReceived:
    """What the gateway publishes for a verified webhook (created now unless `created` says when)."""
    evt = stripe_event_id or f"evt_{uuid.uuid4().hex[:24]}"
    created = created or int(time.time())
    payload = {"id": evt, "object": "event", "type": event_type, "api_version": "2026-08-26.dahlia",
               "created": created, "livemode": False, "data": {"object": intent}}
    return StripeEventReceived.new(
        StripeEventReceivedData(stripe_event_id=evt, type=event_type, connect=False, livemode=False,
                                api_version=payload["api_version"], created=created, object_id=intent["id"],
                                payload=payload),
        producer="gateway", creator_id=None, event_id=StripeEventReceived.event_id_for(evt),
    )


def intent_object(intent_id: str, **fields) -> dict:
    # stripe-mock echoes no metadata, so the events carry none unless a test says so;
    # Stripe received the whole amount unless a test says otherwise
    intent = {"id": intent_id, "object": "payment_intent", "amount": 10_000, "currency": "eur",
              "metadata": {}, **fields}
    return {"amount_received": intent["amount"], **intent}


@pytest.fixture(scope="session")
async def producer(infra):
    producer = make_producer(infra.kafka, client_id="payments-tests")
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
def deliver(producer):
    async def send(*events: StripeEventReceived) -> None:
        for event in events:
            await publish(producer, event)

    return send


async def payment(db, payment_id: str) -> Payment:
    async with db.transaction() as session:
        return await session.get(Payment, uuid.UUID(payment_id))


async def announced(db, topic: str, payment_id: str) -> list[dict]:
    async with db.transaction() as session:
        rows = await session.scalars(sa.select(outbox.c.payload).where(outbox.c.topic == topic))
        events = [json.loads(payload) for payload in rows]
    return [e for e in events if e["data"]["payment_id"] == payment_id]


async def applied(db, *events: StripeEventReceived) -> bool:
    async with db.transaction() as session:
        ids = [e.event_id for e in events]
        return await session.scalar(sa.select(sa.func.count()).where(inbox.c.event_id.in_(ids))) == len(ids)


async def test_a_succeeded_intent_marks_the_payment_succeeded_and_announces_it_once(db, open_payment, deliver):
    opened = await open_payment()
    payment_id, intent_id = opened["payment_id"], opened["stripe_payment_intent_id"]
    succeeded = stripe_event("payment_intent.succeeded", intent_object(intent_id, latest_charge="ch_1"))

    await deliver(succeeded)

    async def is_succeeded():
        return (await payment(db, payment_id)).status == "SUCCEEDED"

    await eventually(is_succeeded)
    row = await payment(db, payment_id)
    assert row.stripe_charge_id == "ch_1"
    [event] = await announced(db, "payment.succeeded", payment_id)
    assert event["creator_id"] == row.creator_id
    assert event["causation_id"] == str(succeeded.event_id)
    assert event["correlation_id"] == succeeded.correlation_id
    assert event["data"] | {"succeeded_at": None} == {
        "payment_id": payment_id, "offer_id": opened["offer_id"], "fan_id": row.fan_id, "creator_id": row.creator_id,
        "price_minor": 10_000, "creator_share_minor": 8_500, "platform_fee_minor": 1_500, "currency": "EUR",
        "stripe_payment_intent_id": intent_id, "stripe_charge_id": "ch_1", "succeeded_at": None,
    }

    # Kafka redelivers the same message, and Stripe re-sends the same news as a new event.
    resent = stripe_event("payment_intent.succeeded", intent_object(intent_id, latest_charge="ch_1"))
    await deliver(succeeded, resent)
    await eventually(lambda: applied(db, resent))  # same key, same partition: after the redelivery

    assert len(await announced(db, "payment.succeeded", payment_id)) == 1


async def test_the_outbox_relay_publishes_the_announcement(db, open_payment, deliver):
    opened = await open_payment()
    await deliver(stripe_event("payment_intent.succeeded", intent_object(opened["stripe_payment_intent_id"])))

    async def sent():
        async with db.transaction() as session:
            rows = await session.execute(sa.select(outbox.c.payload, outbox.c.sent_at)
                                         .where(outbox.c.topic == "payment.succeeded"))
            return [sent_at for payload, sent_at in rows
                    if json.loads(payload)["data"]["payment_id"] == opened["payment_id"] and sent_at]

    await eventually(sent)


async def test_a_failed_attempt_then_a_success_ends_succeeded(db, open_payment, deliver):
    opened = await open_payment()
    payment_id, intent_id = opened["payment_id"], opened["stripe_payment_intent_id"]
    error = {"code": "card_declined", "message": "Your card was declined.", "type": "card_error"}
    failed = stripe_event("payment_intent.payment_failed", intent_object(intent_id, last_payment_error=error))

    await deliver(failed)
    await eventually(lambda: applied(db, failed))

    row = await payment(db, payment_id)
    assert (row.status, row.failure_code, row.failure_message) == ("FAILED", "card_declined", "Your card was declined.")
    [event] = await announced(db, "payment.failed", payment_id)
    assert (event["data"]["failure_code"], event["creator_id"]) == ("card_declined", row.creator_id)

    succeeded = stripe_event("payment_intent.succeeded", intent_object(intent_id, latest_charge="ch_2"))
    await deliver(succeeded)
    await eventually(lambda: applied(db, succeeded))

    assert (await payment(db, payment_id)).status == "SUCCEEDED"
    assert len(await announced(db, "payment.succeeded", payment_id)) == 1


async def test_a_failure_after_success_is_ignored(db, open_payment, deliver):
    opened = await open_payment()
    intent_id = opened["stripe_payment_intent_id"]
    succeeded = stripe_event("payment_intent.succeeded", intent_object(intent_id))
    late_failure = stripe_event("payment_intent.payment_failed",
                                intent_object(intent_id, last_payment_error={"code": "card_declined"}))

    await deliver(succeeded, late_failure)
    await eventually(lambda: applied(db, succeeded, late_failure))

    assert (await payment(db, opened["payment_id"])).status == "SUCCEEDED"
    assert await announced(db, "payment.failed", opened["payment_id"]) == []


async def test_other_event_types_and_foreign_intents_are_recorded_and_ignored(db, deliver):
    other_type = stripe_event("payment_intent.created", intent_object(f"pi_{uuid.uuid4().hex[:14]}"))
    foreign = stripe_event("payment_intent.succeeded", intent_object(f"pi_{uuid.uuid4().hex[:14]}"))

    await deliver(other_type, foreign)

    await eventually(lambda: applied(db, other_type, foreign))
    async with db.transaction() as session:
        mentioned = await session.scalar(
            sa.select(sa.func.count()).select_from(Payment)
            .where(Payment.stripe_payment_intent_id.in_([other_type.data.object_id, foreign.data.object_id]))
        )
    assert mentioned == 0


async def test_an_intent_naming_a_payment_we_do_not_have_goes_to_the_dead_letter_topic(infra, deliver):
    intent = intent_object(f"pi_{uuid.uuid4().hex[:14]}", metadata={"payment_id": str(uuid.uuid4())})
    orphan = stripe_event("payment_intent.succeeded", intent)

    await deliver(orphan)

    consumer = AIOKafkaConsumer(dlq(STRIPE_EVENT_RECEIVED), **infra.kafka.client_options(),
                                auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for record in (r for records in batches.values() for r in records):
                if json.loads(record.value).get("event_id") == str(orphan.event_id):
                    headers = dict(record.headers)
                    assert headers["x-consumer-group"] == b"payments"
                    assert headers["x-error-type"] == b"PermanentError"
                    assert intent["metadata"]["payment_id"].encode() in headers["x-error"]
                    return
        raise AssertionError("the orphan event never reached the dead-letter topic")
    finally:
        await consumer.stop()


async def test_an_intent_whose_id_was_never_stored_is_found_by_its_metadata(
    db, client, as_user, stripe_http, deliver
):
    # Stripe unreachable: the payment stays PENDING without an intent id, exactly as
    # if we had crashed between Stripe's answer and storing it.
    fan = as_user("fan")
    offer = await create_offer(client, as_user("creator"), 5_000, prefix="")
    stripe_http.refusals.extend([(503, {"error": {"type": "api_error", "message": "down"}})] * 3)
    assert (await open_intent(client, fan, offer["offer_id"], prefix="")).status_code == 502
    async with db.transaction() as session:
        lost = await session.scalar(sa.select(Payment).where(Payment.fan_id == fan.user_id))
    intent_id = f"pi_{uuid.uuid4().hex[:14]}"
    succeeded = stripe_event("payment_intent.succeeded",
                             intent_object(intent_id, amount=5_000, metadata={"payment_id": str(lost.id)}))

    await deliver(succeeded)
    await eventually(lambda: applied(db, succeeded))

    row = await payment(db, str(lost.id))
    assert (row.status, row.stripe_payment_intent_id) == ("SUCCEEDED", intent_id)
    assert len(await announced(db, "payment.succeeded", str(lost.id))) == 1


@pytest.mark.parametrize("received", [
    {"amount_received": 50},  # the fan paid 0.50 for a 100.00 offer
    {"amount_received": 10_000, "currency": "usd"},  # the right number in another currency
    {"amount_received": None},  # Stripe did not say: nothing is credited on a guess
])
async def test_a_success_for_another_amount_or_currency_is_held_for_review_and_credits_nothing(
    received, db, open_payment, deliver
):
    opened = await open_payment(10_000)
    payment_id, intent_id = opened["payment_id"], opened["stripe_payment_intent_id"]
    intent = intent_object(intent_id, latest_charge="ch_odd") | received
    odd = stripe_event("payment_intent.succeeded", {k: v for k, v in intent.items() if v is not None})

    await deliver(odd)
    await eventually(lambda: applied(db, odd))

    row = await payment(db, payment_id)
    assert (row.status, row.stripe_charge_id) == ("NEEDS_REVIEW", "ch_odd")
    assert row.review_reason
    assert await announced(db, "payment.succeeded", payment_id) == []  # so the ledger posts nothing
    [review] = await announced(db, "payment.needs_review", payment_id)
    assert review["creator_id"] == opened["creator_id"]
    assert review["data"] | {"reason": None} == {
        "payment_id": payment_id, "offer_id": opened["offer_id"], "fan_id": row.fan_id,
        "creator_id": opened["creator_id"], "price_minor": 10_000, "currency": "EUR",
        "amount_received_minor": received.get("amount_received"),
        "received_currency": received.get("currency", "eur").upper(),
        "stripe_payment_intent_id": intent_id, "reason": None,
    }

    # a later success that does match changes nothing: an admin decides now
    matching = stripe_event("payment_intent.succeeded", intent_object(intent_id, latest_charge="ch_odd"))
    await deliver(matching)
    await eventually(lambda: applied(db, matching))
    assert (await payment(db, payment_id)).status == "NEEDS_REVIEW"
    assert await announced(db, "payment.succeeded", payment_id) == []
