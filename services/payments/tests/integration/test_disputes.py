"""Dispute events through the real consumer path: Stripe's charge.dispute.* events
published on Kafka in several orders, applied by the running app, and what it
stored and put in its outbox read back from its database.

stripe-mock returns disputes without balance transactions and sends no webhooks,
so the Dispute objects are built here, as Stripe sends them (fee and fee_details
on the balance transaction, evidence due date, payment_intent and charge)."""

import json
import time
import uuid

import pytest
import sqlalchemy as sa

from common.tables import outbox
from payments.models import Dispute, Payment
from services.payments.tests.integration.test_stripe_events import (  # noqa: F401 - fixtures
    applied,
    deliver,
    eventually,
    intent_object,
    producer,
    stripe_event,
)

DUE_BY = 1_790_000_000


@pytest.fixture
def paid(open_payment, deliver, db):
    """A succeeded 100.00 EUR payment (creator share 85.00), optionally with
    `refunded` already given back (as the refunds code leaves the totals)."""

    async def pay(refunded: int = 0) -> dict:
        opened = await open_payment(10_000)
        charge_id = f"ch_{uuid.uuid4().hex[:14]}"
        succeeded = stripe_event("payment_intent.succeeded",
                                 intent_object(opened["stripe_payment_intent_id"], latest_charge=charge_id))
        await deliver(succeeded)
        await eventually(lambda: applied(db, succeeded))
        if refunded:
            async with db.transaction() as session:
                await session.execute(sa.update(Payment).where(Payment.id == uuid.UUID(opened["payment_id"]))
                                      .values(refunded_minor=refunded, taken_back_minor=refunded))
        return opened | {"charge_id": charge_id}

    return pay


def balance_transaction(amount: int, fee: int, kind: str) -> dict:
    details = [{"amount": fee, "application": None, "currency": "eur", "description": "Dispute fee",
                "type": "stripe_fee"}] if fee else []
    return {"id": f"txn_{uuid.uuid4().hex[:20]}", "object": "balance_transaction", "amount": amount,
            "currency": "eur", "fee": fee, "fee_details": details, "net": amount - fee, "status": "available",
            "reporting_category": kind, "type": "adjustment", "created": int(time.time())}


def dispute_object(dispute_id: str, paid: dict, status: str, *transactions: dict, amount: int = 10_000,
                   due_by: int = DUE_BY) -> dict:
    return {"id": dispute_id, "object": "dispute", "amount": amount, "currency": "eur", "status": status,
            "reason": "fraudulent", "charge": paid["charge_id"], "payment_intent": paid["stripe_payment_intent_id"],
            "balance_transactions": list(transactions), "is_charge_refundable": False, "livemode": False,
            "evidence_details": {"due_by": due_by, "has_evidence": False, "past_due": False, "submission_count": 0},
            "metadata": {}, "created": int(time.time())}


def dispute_event(event_type: str, obj: dict, created: int):
    event = stripe_event(event_type, obj)
    payload = event.data.payload | {"created": created}
    return event.model_copy(update={"data": event.data.model_copy(update={"created": created, "payload": payload})})


def resent(event):
    """The same news as a new Stripe event (another evt id): Stripe does send that."""
    return dispute_event(event.data.type, event.data.payload["data"]["object"], event.data.created)


def lost_dispute_events(paid: dict, amount: int = 10_000) -> dict:
    dispute_id = f"dp_{uuid.uuid4().hex[:20]}"
    withdrawal = balance_transaction(-amount, 2_000, "dispute")
    now = int(time.time())
    return {
        "created": dispute_event("charge.dispute.created",
                                 dispute_object(dispute_id, paid, "needs_response", amount=amount), now),
        "funds_withdrawn": dispute_event("charge.dispute.funds_withdrawn",
                                         dispute_object(dispute_id, paid, "needs_response", withdrawal, amount=amount),
                                         now + 1),
        "updated": dispute_event("charge.dispute.updated",
                                 dispute_object(dispute_id, paid, "under_review", withdrawal, amount=amount), now + 60),
        "closed": dispute_event("charge.dispute.closed",
                                dispute_object(dispute_id, paid, "lost", withdrawal, amount=amount), now + 120),
    }


async def dispute_row(db, stripe_dispute_id: str) -> Dispute | None:
    async with db.transaction() as session:
        return await session.scalar(sa.select(Dispute).where(Dispute.stripe_dispute_id == stripe_dispute_id))


async def announcements(db, payment_id: str) -> list[tuple[str, bytes, dict]]:
    """Every dispute.* event about the payment, in outbox (publishing) order."""
    async with db.transaction() as session:
        rows = await session.execute(sa.select(outbox.c.topic, outbox.c.key, outbox.c.payload)
                                     .where(outbox.c.topic.like("dispute.%")).order_by(outbox.c.id))
        found = [(topic, key, json.loads(payload)) for topic, key, payload in rows]
    return [(topic, key, event["data"]) for topic, key, event in found if event["data"]["payment_id"] == payment_id]


def stored(row: Dispute) -> dict:
    return {c: getattr(row, c) for c in ("stripe_dispute_id", "amount_minor", "currency", "status", "reason",
                                         "evidence_due_by", "observed_at", "creator_share_minor", "taken_back_minor",
                                         "balance_transaction_ids", "closed", "outcome", "creator_id")}


ORDERS = [
    ("created", "funds_withdrawn", "updated", "closed"),
    ("closed", "updated", "funds_withdrawn", "created"),
    ("funds_withdrawn", "closed", "created", "updated"),
    ("updated", "created", "updated", "closed", "funds_withdrawn"),  # the same update twice
]


@pytest.mark.parametrize("order", ORDERS, ids="-".join)
async def test_a_lost_dispute_in_any_order_freezes_the_share_once_and_closes_last(db, paid, deliver, order):
    opened = await paid(refunded=4_000)
    events = lost_dispute_events(opened, amount=6_000)
    sent = [events[name] if n == order.index(name) else resent(events[name]) for n, name in enumerate(order)]

    await deliver(*sent)
    await eventually(lambda: applied(db, *sent))

    row = await dispute_row(db, events["created"].data.object_id)
    withdrawal = events["closed"].data.payload["data"]["object"]["balance_transactions"][0]
    # 40.00 refunded before: floor(8500 * 100 / 100) - floor(8500 * 40 / 100) of the creator's share
    assert stored(row) == {
        "stripe_dispute_id": events["created"].data.object_id, "amount_minor": 6_000, "currency": "EUR",
        "status": "lost", "reason": "fraudulent", "evidence_due_by": row.evidence_due_by,
        "observed_at": events["closed"].data.created, "creator_share_minor": 5_100, "taken_back_minor": 6_000,
        "balance_transaction_ids": [withdrawal["id"]], "closed": True, "outcome": "lost",
        "creator_id": opened["creator_id"],
    }
    assert int(row.evidence_due_by.timestamp()) == DUE_BY
    async with db.transaction() as session:
        taken_back = await session.scalar(sa.select(Payment.taken_back_minor)
                                          .where(Payment.id == uuid.UUID(opened["payment_id"])))
    assert taken_back == 10_000

    announced = await announcements(db, opened["payment_id"])
    assert {key for _, key, _ in announced} == {opened["creator_id"].encode()}
    money = [(topic, data) for topic, _, data in announced if topic != "dispute.updated"]
    common = {"dispute_id": str(row.id), "payment_id": opened["payment_id"], "creator_id": opened["creator_id"]}
    assert [topic for topic, _ in money] == ["dispute.created", "dispute.funds_withdrawn", "dispute.closed"]
    assert money[1][1] == common | {"amount_minor": 6_000, "fee_minor": 2_000, "currency": "EUR",
                                    "stripe_balance_transaction_id": withdrawal["id"],
                                    "stripe_balance_transaction_ids": [withdrawal["id"]],
                                    "charge_amount_minor": 6_000, "charge_currency": "EUR", "exchange_rate": None}
    assert money[0][1]["creator_share_minor"] == money[2][1]["creator_share_minor"] == 5_100
    assert money[2][1]["outcome"] == "lost"
    topics = [topic for topic, _, _ in announced]
    assert topics[0] == "dispute.created" and topics[-1] == "dispute.closed" and topics.count("dispute.updated") <= 1


async def test_a_won_dispute_gives_the_share_back_and_books_each_balance_transaction_by_its_id(db, paid, deliver):
    opened = await paid()
    dispute_id = f"dp_{uuid.uuid4().hex[:20]}"
    withdrawal = balance_transaction(-10_000, 2_000, "dispute")
    counter_fee = balance_transaction(0, 1_500, "dispute")  # charged when the dispute was countered
    reinstatement = balance_transaction(10_000, 0, "dispute_reversal")  # the dispute fee is kept by Stripe
    now = int(time.time())
    sent = [
        dispute_event("charge.dispute.created", dispute_object(dispute_id, opened, "needs_response", withdrawal), now),
        dispute_event("charge.dispute.closed",
                      dispute_object(dispute_id, opened, "won", withdrawal, counter_fee, reinstatement), now + 100),
        dispute_event("charge.dispute.funds_reinstated",
                      dispute_object(dispute_id, opened, "won", withdrawal, counter_fee, reinstatement), now + 101),
    ]

    await deliver(*sent)
    await eventually(lambda: applied(db, *sent))

    row = await dispute_row(db, dispute_id)
    assert (row.status, row.outcome, row.creator_share_minor) == ("won", "won", 8_500)
    async with db.transaction() as session:
        payment = await session.get(Payment, uuid.UUID(opened["payment_id"]))
    assert payment.taken_back_minor == 0
    announced = await announcements(db, opened["payment_id"])
    assert [topic for topic, _, _ in announced] == [
        "dispute.created", "dispute.funds_withdrawn", "dispute.funds_withdrawn", "dispute.funds_reinstated",
        "dispute.closed",
    ]
    # one movement per balance transaction, each naming its own (the two withdrawals in id order)
    assert {
        (topic, data["amount_minor"], data.get("fee_minor"), data.get("stripe_balance_transaction_id"))
        for topic, _, data in announced
    } == {
        ("dispute.created", 10_000, None, None),
        ("dispute.funds_withdrawn", 10_000, 2_000, withdrawal["id"]),
        ("dispute.funds_withdrawn", 0, 1_500, counter_fee["id"]),
        ("dispute.funds_reinstated", 10_000, 0, reinstatement["id"]),
        ("dispute.closed", 10_000, None, None),
    }
    assert announced[-1][2]["outcome"] == "won"


async def test_an_inquiry_closed_without_a_chargeback_is_stored_and_announces_nothing(db, paid, deliver):
    opened = await paid()
    dispute_id = f"dp_{uuid.uuid4().hex[:20]}"
    now = int(time.time())
    sent = [
        dispute_event("charge.dispute.created", dispute_object(dispute_id, opened, "warning_needs_response"), now),
        dispute_event("charge.dispute.closed", dispute_object(dispute_id, opened, "warning_closed"), now + 10),
    ]

    await deliver(*sent)
    await eventually(lambda: applied(db, *sent))

    row = await dispute_row(db, dispute_id)
    assert (row.status, row.closed, row.outcome, row.creator_share_minor) == ("warning_closed", True, None, None)
    assert await announcements(db, opened["payment_id"]) == []


async def test_a_dispute_on_a_charge_that_is_not_ours_is_ignored(db, deliver):
    stranger = {"charge_id": f"ch_{uuid.uuid4().hex[:14]}", "stripe_payment_intent_id": f"pi_{uuid.uuid4().hex[:14]}"}
    event = dispute_event("charge.dispute.created",
                          dispute_object(f"dp_{uuid.uuid4().hex[:20]}", stranger, "needs_response"), int(time.time()))

    await deliver(event)
    await eventually(lambda: applied(db, event))

    assert await dispute_row(db, event.data.object_id) is None


async def test_a_dispute_read_before_its_payments_success_waits_parked_then_applies(
    open_payment, db, deliver
) -> None:
    opened = await open_payment(10_000) | {"charge_id": f"ch_{uuid.uuid4().hex[:14]}"}
    dispute_id = f"dp_{uuid.uuid4().hex[:20]}"
    early = dispute_event("charge.dispute.created", dispute_object(dispute_id, opened, "needs_response"),
                          int(time.time()))
    await deliver(early)

    async def parked() -> int:
        async with db.transaction() as session:
            return await session.scalar(sa.text("SELECT count(*) FROM parked_events WHERE event_id = :id"),
                                        {"id": early.event_id})

    await eventually(parked)
    succeeded = stripe_event("payment_intent.succeeded",
                             intent_object(opened["stripe_payment_intent_id"], latest_charge=opened["charge_id"]))
    await deliver(succeeded)
    await eventually(lambda: applied(db, early))
    row = await dispute_row(db, dispute_id)
    assert (row.status, row.creator_share_minor) == ("needs_response", 8_500)
    assert await parked() == 0
