"""payment_intent.succeeded, the hot path, applied set-based: a batch of them
costs the same number of statements whatever its size, and ends in exactly the
rows and announcements that applying the same events one batch each gives,
mixed with the other Stripe types in any order.

The batches go through the consumer's own fast path (`EventApplier.apply_all`:
inbox, handlers, outbox, release of parked events) on the real PostgreSQL."""

import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from common.applying import Delivery, EventApplier, ReadTooEarly
from common.kafka import encode
from common.tables import outbox
from contracts.events.stripe import StripeEventReceived
from payments import models
from payments.domain.payments import PaymentStatus, split
from payments.handlers import Needs, handlers
from payments.models import Payment
from payments.stripe_gateway import StripeGateway
from services.payments.tests.integration.test_stripe_events import intent_object, stripe_event
from tests.support.statements import statements_run

CREATED = int(time.time()) - 60  # one Stripe second for every event, so both runs stamp the same succeeded_at


@pytest.fixture(scope="module")
def applier(payments_settings) -> EventApplier[Needs]:
    # None of the events here makes payments call Stripe; the gateway is only what Needs holds.
    gateway = StripeGateway(payments_settings.stripe_api_key, payments_settings.stripe_api_base)
    return EventApplier(handlers, Needs(gateway))


@dataclass(frozen=True)
class Opened:
    """A PENDING payment of 100.00 EUR with its PaymentIntent, and the ids that
    tell it apart from its twin in the other run."""

    payment: Payment
    intent_id: str
    charge_id: str

    def placeholders(self, n: int) -> dict[str, str]:
        p = self.payment
        return {str(p.id): f"payment-{n}", self.intent_id: f"pi-{n}", self.charge_id: f"ch-{n}",
                p.fan_id: f"fan-{n}", p.creator_id: f"creator-{n}", p.offer_id or "": f"offer-{n}"}


async def open_payments(db, count: int, status: PaymentStatus = PaymentStatus.PENDING) -> list[Opened]:
    opened = []
    async with db.transaction() as session:
        for _ in range(count):
            tag = uuid.uuid4().hex[:16]
            payment, _ = await models.open_payment(
                session, fan_id=f"fan-{tag}", creator_id=f"creator-{tag}", offer_id=str(uuid.uuid4()),
                amounts=split(10_000), currency="EUR", idempotency_key=None,
            )
            payment.stripe_payment_intent_id = f"pi_{tag}"
            payment.status = status
            opened.append(Opened(payment, f"pi_{tag}", f"ch_{tag}"))
    return opened


def succeeded(o: Opened, **fields) -> StripeEventReceived:
    intent = intent_object(o.intent_id, **{"latest_charge": o.charge_id, **fields})
    return stripe_event("payment_intent.succeeded", intent, created=CREATED)


def failed(o: Opened) -> StripeEventReceived:
    error = {"code": "card_declined", "message": "Your card was declined.", "type": "card_error"}
    return stripe_event("payment_intent.payment_failed", intent_object(o.intent_id, last_payment_error=error),
                        created=CREATED)


def refunded(o: Opened, amount: int) -> StripeEventReceived:
    """A refund made on Stripe's dashboard, already succeeded."""
    refund = {"id": f"re_{uuid.uuid4().hex[:20]}", "object": "refund", "amount": amount, "currency": "eur",
              "status": "succeeded", "payment_intent": o.intent_id, "charge": o.charge_id, "metadata": {}}
    return stripe_event("refund.created", refund, created=CREATED)


async def apply(db, applier: EventApplier[Needs], events: Sequence[StripeEventReceived], *, together: bool) -> None:
    """All of `events` in one batch (one transaction), or each in a batch of its
    own; an event read before its prerequisite is parked, as the consumer does."""
    deliveries = [Delivery(event.TOPIC, event, encode(event)) for event in events]
    for batch in [deliveries] if together else [[d] for d in deliveries]:
        parked: dict[uuid.UUID, str] = {}
        while True:
            try:
                async with db.transaction() as session:
                    await applier.apply_all(session, batch, parked)
                break
            except ReadTooEarly as early:
                parked[early.event_id] = early.waits_for


async def outcome(db, opened: list[Opened], events: Sequence[StripeEventReceived]) -> tuple[list, list]:
    """The payments' rows and the events announced about them, with the ids that
    differ between two runs of the same script replaced by their place in it."""
    names = {k: v for n, o in enumerate(opened) for k, v in o.placeholders(n).items()}
    names |= {str(e.event_id): f"stripe-event-{n}" for n, e in enumerate(events)}

    def same_ids(value: object) -> object:
        text = json.dumps(value, default=str, sort_keys=True)
        for real, placeholder in names.items():
            text = text.replace(real, placeholder)
        return json.loads(text)

    async with db.transaction() as session:
        ids = [o.payment.id for o in opened]
        rows = (await session.scalars(sa.select(Payment).where(Payment.id.in_(ids)))).all()
        by_id = {row.id: row for row in rows}
        payments = [same_ids({
            "payment_id": str(row.id), "status": row.status, "stripe_charge_id": row.stripe_charge_id,
            "succeeded_at": row.succeeded_at, "review_reason": row.review_reason, "failure_code": row.failure_code,
            "failure_message": row.failure_message, "refunded_minor": row.refunded_minor,
            "taken_back_minor": row.taken_back_minor,
        }) for row in (by_id[i] for i in ids)]
        written = await session.execute(sa.select(outbox.c.topic, outbox.c.key, outbox.c.payload)
                                         .where(outbox.c.key.in_([o.payment.creator_id.encode() for o in opened]))
                                         .order_by(outbox.c.id))
        announced = []
        for topic, key, payload in written:
            event = json.loads(payload)
            event["data"].pop("refund_id", None)  # our own new id for a dashboard refund
            event["data"].pop("stripe_refund_id", None)
            announced.append(same_ids({"topic": topic, "key": key.decode(), "causation_id": event["causation_id"],
                                       "data": event["data"]}))
    return payments, announced


Script = Callable[[list[Opened]], list[StripeEventReceived]]


async def one_at_a_time_and_together(db, applier, script: Script, size: int, status=PaymentStatus.PENDING, *,
                                     read: Callable[..., Awaitable[Any]] | None = None, pending: Sequence[int] = ()):
    """The same script on two sets of payments in `status` (but those at the
    places `pending`, PENDING): one event per batch, then all in one batch; what
    each run left, as `read` (default: outcome) reads it."""
    results = []
    for together in (False, True):
        opened = await open_payments(db, size, status)
        if pending:
            async with db.transaction() as session:
                await session.execute(sa.update(Payment).where(Payment.id.in_([opened[n].payment.id for n in pending]))
                                      .values(status=PaymentStatus.PENDING))
        events = script(opened)
        await apply(db, applier, events, together=together)
        results.append(await (read or outcome)(db, opened, events))
    return results


def every_kind_of_success(opened: list[Opened]) -> list[StripeEventReceived]:
    """Credited; the same news twice under two evt ids; another amount or currency
    than the snapshot (held for review); and an intent that is not ours."""
    events = []
    for n, o in enumerate(opened):
        match n % 5:
            case 0 | 1:
                events.append(succeeded(o))
            case 2:
                events += [succeeded(o), succeeded(o)]
            case 3:
                events.append(succeeded(o, amount_received=9_999))
            case 4:
                events += [succeeded(o, currency="usd"),
                           stripe_event("payment_intent.succeeded", intent_object(f"pi_{uuid.uuid4().hex[:16]}"),
                                        created=CREATED)]
    return events


@pytest.mark.parametrize("size", [3, 30])
async def test_a_batch_of_successes_ends_as_one_at_a_time(db, applier, size):
    one_by_one, together = await one_at_a_time_and_together(db, applier, every_kind_of_success, size)

    assert together == one_by_one
    payments, announced = together
    statuses = [p["status"] for p in payments]
    kinds = ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "NEEDS_REVIEW", "NEEDS_REVIEW"]
    assert statuses == [kinds[n % 5] for n in range(size)]
    topics = [a["topic"] for a in announced]
    assert topics.count("payment.succeeded") == statuses.count("SUCCEEDED")  # the duplicate emitted nothing
    assert topics.count("payment.needs_review") == statuses.count("NEEDS_REVIEW")


async def test_a_payment_that_failed_first_succeeds_in_a_batch(db, applier):
    one_by_one, together = await one_at_a_time_and_together(
        db, applier, lambda opened: [succeeded(o) for o in opened], 3, status=PaymentStatus.FAILED)

    assert together == one_by_one
    assert {p["status"] for p in together[0]} == {"SUCCEEDED"}


def mixed_order(opened: list[Opened]) -> list[StripeEventReceived]:
    """Successes interleaved with the other types, for the same payments: a failure
    after the success (stale), a failure before it (superseded), a refund after it,
    and a duplicate success followed by a failure."""
    a, b, c, d = opened
    return [succeeded(a), succeeded(c), failed(a), failed(b), succeeded(b), refunded(c, 4_000),
            succeeded(d), succeeded(d), failed(d), refunded(a, 10_000)]


async def test_successes_mixed_with_failures_and_refunds_end_as_one_at_a_time(db, applier):
    one_by_one, together = await one_at_a_time_and_together(db, applier, mixed_order, 4)

    assert together == one_by_one
    payments, announced = together
    assert [p["status"] for p in payments] == ["SUCCEEDED"] * 4
    assert [p["refunded_minor"] for p in payments] == [10_000, 0, 4_000, 0]
    assert [(a["topic"], a["data"]["payment_id"]) for a in announced] == [
        ("payment.succeeded", "payment-0"), ("payment.succeeded", "payment-2"), ("payment.failed", "payment-1"),
        ("payment.succeeded", "payment-1"), ("refund.created", "payment-2"), ("payment.succeeded", "payment-3"),
        ("refund.created", "payment-0"),
    ]


async def test_the_same_success_under_another_event_id_in_one_batch_is_announced_once(db, applier):
    [o] = await open_payments(db, 1)
    await apply(db, applier, [succeeded(o), succeeded(o, latest_charge="ch_other")], together=True)

    _, announced = await outcome(db, [o], [])
    assert [a["topic"] for a in announced] == ["payment.succeeded"]
    assert announced[0]["data"]["stripe_charge_id"] == "ch-0"  # the first one's, untouched by the second




async def test_a_batch_of_successes_costs_the_same_statements_whatever_its_size(db, applier):
    counts = {}
    for size in (1, 3, 30):
        opened = await open_payments(db, size)
        with statements_run(db) as executed:
            await apply(db, applier, [succeeded(o) for o in opened], together=True)
        counts[size] = len(executed)
        async with db.transaction() as session:
            statuses = await session.scalars(sa.select(Payment.status).where(
                Payment.id.in_([o.payment.id for o in opened])))
            assert set(statuses) == {"SUCCEEDED"}
    print(f"\nstatements per batch of payment_intent.succeeded (size: count): {counts}")
    assert counts[3] == counts[1] and counts[30] == counts[1], counts
