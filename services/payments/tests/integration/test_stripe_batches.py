"""The other Stripe types (a payment's failure, its charge's fee, refunds,
disputes) applied set-based: a batch of them costs the same number of
statements whatever its size, and ends in exactly the rows and announcements
that applying the same events one batch each gives (duplicates, two events on
one object, a later state before an earlier one, a parked one), and a rule
error in one event dead-letters it alone through the consumer.

The batches go through the consumer's own fast path (`EventApplier.apply_all`)
on the real PostgreSQL, and Stripe is stripe-mock where an event makes
payments read a balance transaction."""

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from aiokafka.structs import ConsumerRecord

from common.consumers import EventConsumer, RetryPolicy
from common.kafka import encode, make_producer
from common.tables import outbox
from contracts.events.stripe import StripeEventReceived
from payments.domain.payments import PaymentStatus
from payments.handlers import Needs, handlers
from payments.models import Dispute, Payment, Refund
from payments.stripe_gateway import StripeGateway
from tests.support.dead_letters import dead_lettered
from services.payments.tests.integration.test_disputes import balance_transaction, dispute_event, dispute_object
from services.payments.tests.integration.test_stripe_events import stripe_event
from services.payments.tests.integration.test_succeeded_batches import (  # noqa: F401 - fixtures
    CREATED,
    Opened,
    applier,
    apply,
    failed,
    one_at_a_time_and_together,
    open_payments,
    outcome,
    succeeded,
)
from stack.stripe_fixtures import FEE_MINOR
from tests.support.statements import statements_run

@pytest.fixture(autouse=True)
async def announced_nowhere(db) -> AsyncIterator[None]:
    """What a test puts in the outbox is deleted after it, never published: its
    payments were opened straight in the database (the ledger never heard of
    them), and stripe-mock names one balance transaction for every charge, which
    the ledger on the same stack (end to end) rightly books once."""
    async with db.transaction() as session:
        before = await session.scalar(sa.select(sa.func.coalesce(sa.func.max(outbox.c.id), 0)))
    yield
    async with db.transaction() as session:
        await session.execute(sa.delete(outbox).where(outbox.c.id > before, outbox.c.sent_at.is_(None)))


# ---- the events, as Stripe sends them --------------------------------------------------------


def charge(o: Opened, event_type: str = "charge.updated", *, txn: object = None, **fields) -> StripeEventReceived:
    """Its charge, with its balance transaction expanded (a dict), named (an id:
    payments reads it from stripe-mock) or not yet there (None)."""
    obj = {"id": o.charge_id, "object": "charge", "amount": 10_000, "currency": "eur", "status": "succeeded",
           "paid": True, "payment_intent": o.intent_id, "balance_transaction": txn, "metadata": {}, **fields}
    return stripe_event(event_type, obj, created=CREATED)


def expanded_txn(fee: int = 320) -> dict:
    return {"id": f"txn_{uuid.uuid4().hex[:14]}", "object": "balance_transaction", "amount": 10_000,
            "currency": "eur", "fee": fee, "net": 10_000 - fee}


def charge_refunded(o: Opened, amount_refunded: int) -> StripeEventReceived:
    return charge(o, "charge.refunded", amount_refunded=amount_refunded, refunded=True)


def refund(o: Opened, refund_id: str, status: str, event_type: str = "refund.updated", *, amount: int = 4_000,
           **fields) -> StripeEventReceived:
    """A refund made on Stripe's dashboard (no refund_id of ours in its metadata)."""
    obj = {"id": refund_id, "object": "refund", "amount": amount, "currency": "eur", "status": status,
           "payment_intent": o.intent_id, "charge": o.charge_id, "metadata": {}, **fields}
    return stripe_event(event_type, obj, created=CREATED)


def dispute(o: Opened, dispute_id: str, event_type: str, status: str, *transactions: dict, at: int = CREATED):
    paid = {"charge_id": o.charge_id, "stripe_payment_intent_id": o.intent_id}
    return dispute_event(event_type, dispute_object(dispute_id, paid, status, *transactions), at)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def again(event: StripeEventReceived) -> StripeEventReceived:
    """The same news under another Stripe event id."""
    obj = event.data.payload["data"]["object"]
    if event.data.type.startswith("charge.dispute."):
        return dispute_event(event.data.type, obj, event.data.created)
    return stripe_event(event.data.type, obj, created=event.data.created)


# ---- what a run leaves -------------------------------------------------------------------------


async def rows_and_announcements(db, opened: list[Opened], events: Sequence[StripeEventReceived]) -> dict:
    """The payments, their refunds and disputes, and every announcement about
    them, with the ids that differ between two runs replaced by placeholders."""
    payments, announced = await outcome(db, opened, events)
    names = {str(o.payment.id): f"payment-{n}" for n, o in enumerate(opened)}
    async with db.transaction() as session:
        ids = [o.payment.id for o in opened]
        fees = (await session.execute(
            sa.select(Payment.id, Payment.stripe_fee_minor, Payment.stripe_fee_currency,
                      Payment.stripe_balance_transaction_id.is_not(None)).where(Payment.id.in_(ids)))).all()
        refunds = (await session.execute(
            sa.select(Refund.payment_id, Refund.amount_minor, Refund.status, Refund.creator_clawback_minor,
                      Refund.failure_reason, Refund.reason).where(Refund.payment_id.in_(ids)))).all()
        disputes = (await session.execute(
            sa.select(Dispute.payment_id, Dispute.status, Dispute.amount_minor, Dispute.creator_share_minor,
                      Dispute.taken_back_minor, Dispute.closed, Dispute.outcome, Dispute.observed_at,
                      sa.func.cardinality(Dispute.balance_transaction_ids)).where(Dispute.payment_id.in_(ids)))).all()
    for event in announced:
        event["data"].pop("dispute_id", None)  # our own new id for each dispute
        event["data"].pop("stripe_dispute_id", None)
        event["data"].pop("stripe_balance_transaction_id", None)
        event["data"].pop("stripe_balance_transaction_ids", None)
        event["data"].pop("balance_transaction_id", None)
    return {
        "payments": payments,
        "fees": sorted((names[str(i)], *rest) for i, *rest in fees),
        "refunds": sorted((names[str(p)], *rest) for p, *rest in refunds),
        "disputes": sorted((names[str(p)], *rest) for p, *rest in disputes),
        "announced": announced,
    }


async def one_by_one_and_together(db, applier, script, size: int, status=PaymentStatus.SUCCEEDED, **options):
    return await one_at_a_time_and_together(db, applier, script, size, status, read=rows_and_announcements, **options)


def topics(result: dict) -> list[tuple[str, str]]:
    return [(a["topic"], a["data"]["payment_id"]) for a in result["announced"]]


# ---- statements --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Batch:
    """A batch of one type: the status its payments start in, the event for
    each payment, what was applied before it (not counted: the rows it finds
    stored), and how many announcements each payment ends with."""

    status: PaymentStatus
    event: Callable[[Opened], StripeEventReceived]
    announced: int = 1
    before: Callable[[Opened], StripeEventReceived] | None = None


def one_id(prefix: str, o: Opened) -> str:
    """One id per payment, for a Stripe object two events name."""
    return f"{prefix}_{o.intent_id}"


BATCHES = {
    "payment_intent.payment_failed": Batch(PaymentStatus.PENDING, failed),
    "charge.succeeded (expanded)": Batch(PaymentStatus.SUCCEEDED,
                                         lambda o: charge(o, "charge.succeeded", txn=expanded_txn())),
    "charge.updated (read from Stripe)": Batch(PaymentStatus.SUCCEEDED, lambda o: charge(o, txn=new_id("txn"))),
    "charge.refunded": Batch(PaymentStatus.SUCCEEDED, lambda o: charge_refunded(o, 0), announced=0),
    "refund.created": Batch(PaymentStatus.SUCCEEDED, lambda o: refund(
        o, new_id("re"), "succeeded", "refund.created", balance_transaction=expanded_txn(0))),
    "refund.updated (stored)": Batch(
        PaymentStatus.SUCCEEDED, lambda o: refund(o, one_id("re", o), "succeeded"),
        before=lambda o: refund(o, one_id("re", o), "pending", "refund.created")),
    "charge.dispute.created": Batch(
        PaymentStatus.SUCCEEDED, lambda o: dispute(o, new_id("dp"), "charge.dispute.created", "needs_response")),
    "charge.dispute.closed (stored)": Batch(
        PaymentStatus.SUCCEEDED,
        lambda o: dispute(o, one_id("dp", o), "charge.dispute.closed", "won", at=CREATED + 1), announced=2,
        before=lambda o: dispute(o, one_id("dp", o), "charge.dispute.created", "needs_response")),
}


@pytest.mark.parametrize("kind", BATCHES)
async def test_a_batch_of_one_type_costs_the_same_statements_whatever_its_size(db, applier, kind):
    batch = BATCHES[kind]
    counts = {}
    for size in (1, 3, 30):
        opened = await open_payments(db, size, batch.status)
        if batch.before:
            await apply(db, applier, [batch.before(o) for o in opened], together=True)
        events = [batch.event(o) for o in opened]
        with statements_run(db) as executed:
            await apply(db, applier, events, together=True)
        counts[size] = len(executed)
        announced = (await rows_and_announcements(db, opened, events))["announced"]
        assert len(announced) == batch.announced * size  # each did its work
    print(f"\nstatements per batch of {kind} (size: count): {counts}")
    assert counts[3] == counts[1] and counts[30] == counts[1], counts


# ---- a batch ends as one by one ----------------------------------------------------------------


def failures(opened: list[Opened]) -> list[StripeEventReceived]:
    """A failure delivered twice; the same failure under two evt ids; a failure
    after a success (stale); one that is not ours."""
    a, b, c = opened
    foreign = stripe_event("payment_intent.payment_failed",
                           {"id": f"pi_{uuid.uuid4().hex[:16]}", "object": "payment_intent", "metadata": {}})
    fails_a = failed(a)
    return [fails_a, failed(b), fails_a, again(failed(b)), succeeded(c), failed(c), foreign]


async def test_failures_in_a_batch_end_as_one_by_one(db, applier):
    one_by_one, together = await one_by_one_and_together(db, applier, failures, 3, PaymentStatus.PENDING)

    assert together == one_by_one
    assert [p["status"] for p in together["payments"]] == ["FAILED", "FAILED", "SUCCEEDED"]
    assert [t for t, _ in topics(together)] == ["payment.failed", "payment.failed", "payment.succeeded"]


def fees(opened: list[Opened]) -> list[StripeEventReceived]:
    """A charge first without its balance transaction, then with it twice (the
    fee recorded once); one read from Stripe; one that failed; one not ours."""
    a, b, c = opened
    txn = expanded_txn()
    foreign = Opened(a.payment, f"pi_{uuid.uuid4().hex[:16]}", f"ch_{uuid.uuid4().hex[:16]}")
    return [charge(a, "charge.succeeded"), charge(a, txn=txn), charge(a, txn=txn), charge(b, txn=new_id("txn")),
            charge(b, txn=expanded_txn(999)), charge(c, txn=expanded_txn(), status="failed"),
            charge(foreign, "charge.succeeded", txn=expanded_txn())]


async def test_fees_in_a_batch_end_as_one_by_one(db, applier):
    one_by_one, together = await one_by_one_and_together(db, applier, fees, 3)

    assert together == one_by_one
    assert [f[1:] for f in together["fees"]] == [(320, "EUR", True), (FEE_MINOR, "USD", True), (None, None, False)]
    assert topics(together) == [("payment.fee_recorded", "payment-0"), ("payment.fee_recorded", "payment-1")]


def refund_lives(opened: list[Opened]) -> list[StripeEventReceived]:
    """A refund pending, needing action, then succeeded twice under two evt ids
    (the first delivered again too); one succeeded before its pending (stale
    after), then failed (given back); two refunds of one payment taking back all
    of it; a cross-check."""
    a, b, c = opened
    ra, rb, rc1, rc2 = new_id("re"), new_id("re"), new_id("re"), new_id("re")
    done_a = refund(a, ra, "succeeded")
    return [
        refund(a, ra, "pending", "refund.created"), refund(a, ra, "requires_action"), done_a, again(done_a), done_a,
        refund(b, rb, "succeeded", balance_transaction=expanded_txn(0)), refund(b, rb, "pending", "refund.created"),
        refund(b, rb, "failed", "refund.failed", failure_reason="expired_or_canceled_card",
               failure_balance_transaction=expanded_txn(0)),
        refund(c, rc1, "succeeded", "refund.created", amount=3_333), charge_refunded(c, 3_333),
        refund(c, rc2, "succeeded", "charge.refund.updated", amount=6_667), charge_refunded(c, 10_000),
    ]


async def test_refunds_in_a_batch_end_as_one_by_one(db, applier):
    one_by_one, together = await one_by_one_and_together(db, applier, refund_lives, 3)

    assert together == one_by_one
    assert [(p["refunded_minor"], p["taken_back_minor"]) for p in together["payments"]] == [
        (4_000, 4_000), (0, 0), (10_000, 10_000)]
    assert sorted((r[0], r[2], r[3]) for r in together["refunds"]) == [
        ("payment-0", "SUCCEEDED", 3_400), ("payment-1", "FAILED", 3_400),
        ("payment-2", "SUCCEEDED", 2_833), ("payment-2", "SUCCEEDED", 5_667)]
    assert [t for t, _ in topics(together)] == ["refund.created", "refund.created", "refund.failed",
                                                "refund.created", "refund.created"]


def dispute_lives(opened: list[Opened]) -> list[StripeEventReceived]:
    """A dispute closed (lost) before its creation and withdrawal arrive, each
    twice (and the close delivered again); one created, updated and won in order; one on a payment not
    succeeded yet (parked), released by the success later in the batch."""
    a, b, c = opened
    da, db_, dc = new_id("dp"), new_id("dp"), new_id("dp")
    withdrawn = balance_transaction(-10_000, 1_500, "dispute")
    reinstated = balance_transaction(10_000, 0, "dispute_reversal")
    lost = dispute(a, da, "charge.dispute.closed", "lost", withdrawn, at=CREATED + 3)
    created = dispute(a, da, "charge.dispute.created", "needs_response", at=CREATED)
    return [
        lost, created, dispute(a, da, "charge.dispute.funds_withdrawn", "needs_response", withdrawn, at=CREATED + 1),
        again(lost), again(created), lost,
        dispute(b, db_, "charge.dispute.created", "needs_response", at=CREATED),
        dispute(b, db_, "charge.dispute.updated", "under_review", at=CREATED + 1),
        dispute(b, db_, "charge.dispute.funds_withdrawn", "under_review", withdrawn, at=CREATED + 1),
        dispute(b, db_, "charge.dispute.closed", "won", withdrawn, reinstated, at=CREATED + 2),
        dispute(c, dc, "charge.dispute.created", "needs_response", at=CREATED),
        succeeded(c),
    ]


async def test_disputes_in_a_batch_end_as_one_by_one(db, applier):
    # the third payment's success is in the batch, after its dispute
    one_by_one, together = await one_by_one_and_together(db, applier, dispute_lives, 3, pending=[2])

    assert together == one_by_one
    assert [(d[0], d[1], d[6]) for d in together["disputes"]] == [
        ("payment-0", "lost", "lost"), ("payment-1", "won", "won"), ("payment-2", "needs_response", None)]
    assert [p["taken_back_minor"] for p in together["payments"]] == [10_000, 0, 10_000]
    assert topics(together) == [
        ("dispute.created", "payment-0"), ("dispute.funds_withdrawn", "payment-0"), ("dispute.closed", "payment-0"),
        ("dispute.created", "payment-1"), ("dispute.updated", "payment-1"), ("dispute.funds_withdrawn", "payment-1"),
        ("dispute.funds_reinstated", "payment-1"), ("dispute.closed", "payment-1"),
        ("payment.succeeded", "payment-2"), ("dispute.created", "payment-2"),
    ]


# ---- a rule error ------------------------------------------------------------------------------


async def test_a_refund_taking_back_more_than_the_price_is_dead_lettered_and_the_rest_applied(
    infra, db, payments_settings
):
    a, b = await open_payments(db, 2, PaymentStatus.SUCCEEDED)
    too_much = refund(a, new_id("re"), "succeeded", "refund.created", amount=10_001)
    batch = [refund(a, new_id("re"), "succeeded", "refund.created", amount=1_000), too_much,
             failed(b), dispute(b, new_id("dp"), "charge.dispute.created", "needs_response")]
    records = tuple(
        ConsumerRecord(topic=event.TOPIC, partition=0, offset=offset, timestamp=0, timestamp_type=0,
                       key=event.key(), value=encode(event), checksum=None, serialized_key_size=-1,
                       serialized_value_size=-1, headers=[])
        for offset, event in enumerate(batch)
    )
    settings = payments_settings
    dead_letters = make_producer(infra.kafka, client_id="payments-batch-test")
    await dead_letters.start()
    try:
        consumer = EventConsumer(
            group_id="payments", handlers=handlers, db=db, dead_letters=dead_letters, concurrency=1,
            needs=Needs(StripeGateway(settings.stripe_api_key, settings.stripe_api_base)),
            retry=RetryPolicy(max_retries=1))
        await consumer.apply_batch(records)
    finally:
        await dead_letters.stop()

    result = await rows_and_announcements(db, [a, b], batch)
    assert [(p["status"], p["refunded_minor"]) for p in result["payments"]] == [("SUCCEEDED", 1_000),
                                                                                 ("SUCCEEDED", 0)]
    assert topics(result) == [("refund.created", "payment-0"), ("dispute.created", "payment-1")]
    headers = await dead_lettered(infra, too_much)
    assert headers["x-error-type"] == b"PermanentError"
    assert b"would take back 11001" in headers["x-error"]
