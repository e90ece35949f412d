"""The ledger's answers (payout.funds_reserved, payout.funds_rejected) and the
Connect events (account.updated, payout.paid, payout.failed) applied set-based:
a batch of them costs the same number of statements whatever its size, and
leaves exactly the rows, audit trail and announcements that applying the same
events one batch each leaves: duplicates, two events on one payout, a later
event before an earlier one, a parked one and a refused one included.

The batches go through the consumer (`EventConsumer.apply_batch`: inbox, handlers,
outbox, parking, record-by-record redo and dead letters) on the real PostgreSQL
and Kafka, with payout.failed's reversals made at stripe-mock."""

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from aiokafka.structs import ConsumerRecord

from common import hash_chain
from common.applying import Delivery, EventApplier
from common.consumers import EventConsumer, RetryPolicy
from common.kafka import encode, make_producer
from common.tables import inbox, outbox
from contracts.envelope import Event
from contracts.events.payouts import (
    DebtDeduction,
    FundsRejectedData,
    FundsReservedData,
    PayoutFundsRejected,
    PayoutFundsReserved,
)
from contracts.events.stripe import StripeEventReceived
from payouts.handlers import Needs, handlers
from payouts.models import Payout, PayoutAccount, PayoutAudit
from payouts.stripe_gateway import StripeGateway
from services.payouts.tests.integration.payouts_driver import stripe_event
from tests.support.dead_letters import dead_lettered
from tests.support.statements import statements_run

ARRIVAL = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp())  # the banks' arrival date of every paid payout


@pytest.fixture
async def gateway(payouts_settings) -> AsyncIterator[StripeGateway]:
    stripe = StripeGateway(payouts_settings.stripe_api_key, payouts_settings.stripe_api_base)
    yield stripe
    await stripe.close()


@pytest.fixture
async def consumer(infra, db, gateway) -> AsyncIterator[EventConsumer]:
    """Payouts' consumer as the service runs it, but fed its batches by the test."""
    dead_letters = make_producer(infra.kafka, client_id="payouts-batch-test")
    await dead_letters.start()
    try:
        yield EventConsumer(group_id="payouts", handlers=handlers, needs=Needs(stripe=gateway), db=db,
                            dead_letters=dead_letters, retry=RetryPolicy(max_retries=1), concurrency=1)
    finally:
        await dead_letters.stop()


async def apply(consumer: EventConsumer, events: Sequence[Event], *, together: bool) -> None:
    """All of `events` in one batch, or each in a batch of its own."""
    records = [
        ConsumerRecord(topic=event.TOPIC, partition=0, offset=offset, timestamp=0, timestamp_type=0,
                       key=event.key(), value=encode(event), checksum=None, serialized_key_size=-1,
                       serialized_value_size=-1, headers=[])
        for offset, event in enumerate(events)
    ]
    for batch in [records] if together else [[record] for record in records]:
        await consumer.apply_batch(tuple(batch))


async def unapplied(db, events: Sequence[Event]) -> list[int]:
    """The positions of the events the inbox has not recorded as applied (parked
    or dead-lettered: an event that failed leaves no trace of its own)."""
    async with db.transaction() as session:
        claimed = set(await session.scalars(
            sa.select(inbox.c.event_id).where(inbox.c.event_id.in_([e.event_id for e in events]))))
    return [n for n, event in enumerate(events) if event.event_id not in claimed]


@dataclass(frozen=True)
class Stored:
    """A payout stored as the API and the approver leave it."""

    id: uuid.UUID
    creator_id: str
    stripe_account_id: str
    stripe_payout_id: str
    stripe_transfer_id: str

    def placeholders(self, n: int) -> dict[str, str]:
        return {str(self.id): f"payout-{n}", self.creator_id: f"creator-{n}", self.stripe_account_id: f"acct-{n}",
                self.stripe_payout_id: f"po-{n}", self.stripe_transfer_id: f"tr-{n}"}


async def store_payouts(db, count: int, state: str, **columns) -> list[Stored]:
    """`count` payouts of 200.00 EUR in `state`: approved ones with their transfer,
    submitted ones (PROCESSING and later) with their Stripe payout too."""
    stored = []
    async with db.transaction() as session:
        for _ in range(count):
            tag = uuid.uuid4().hex[:12]
            payout = Stored(uuid.uuid4(), f"creator_{tag}", f"acct_{tag}", f"po_{tag}", f"tr_{tag}")
            approved, submitted = state != "REQUESTED", state not in ("REQUESTED", "APPROVED")
            values = {
                "id": payout.id, "creator_id": payout.creator_id, "currency": "EUR", "all_available": False,
                "requested_minor": 20_000, "minimum_minor": 1_000, "state": state,
                "funds_reserved": state != "REQUESTED", "requested_by": payout.creator_id,
                "stripe_account_id": payout.stripe_account_id,
                "gross_minor": None if state == "REQUESTED" else 20_000,
                "debt_deducted_minor": None if state == "REQUESTED" else 0,
                "net_minor": None if state == "REQUESTED" else 20_000,
                "stripe_transfer_id": payout.stripe_transfer_id if approved else None,
                "stripe_payout_id": payout.stripe_payout_id if submitted else None,
                **columns,
            }
            session.add(Payout(**values))
            stored.append(payout)
    return stored


def reserved(p: Stored, debt: int = 0) -> PayoutFundsReserved:
    deductions = [DebtDeduction(debt_id=f"debt_{p.creator_id}", amount_minor=debt)] if debt else []
    return PayoutFundsReserved.new(
        FundsReservedData(payout_id=str(p.id), creator_id=p.creator_id, currency="EUR", amount_minor=20_000,
                          debt_deducted_minor=debt, net_minor=20_000 - debt, deductions=deductions),
        producer="ledger", creator_id=p.creator_id,
    )


def rejected(p: Stored, reason: str = "insufficient_available") -> PayoutFundsRejected:
    return PayoutFundsRejected.new(
        FundsRejectedData(payout_id=str(p.id), creator_id=p.creator_id, currency="EUR", reason=reason,
                          detail=f"refused: {reason}", available_minor=500, debt_minor=9_000),
        producer="ledger", creator_id=p.creator_id,
    )


def settled(p: Stored, event_type: str, *, named: bool = True, stripe_payout_id: str | None = None,
            amount: int = 20_000) -> StripeEventReceived:
    """Stripe's payout.paid or payout.failed for the payout's Stripe payout (or another
    one), its metadata naming our payout as our approver puts it, or not."""
    failed = event_type == "payout.failed"
    stripe_payout = {
        "id": stripe_payout_id or p.stripe_payout_id, "object": "payout", "amount": amount,
        "status": "failed" if failed else "paid", "arrival_date": ARRIVAL,
        "failure_code": "account_closed" if failed else None,
        "failure_message": "The bank account has been closed." if failed else None,
        "metadata": {"payout_id": str(p.id)} if named else {},
    }
    return stripe_event(event_type, stripe_payout, account=p.stripe_account_id)


def paid(p: Stored, **options) -> StripeEventReceived:
    return settled(p, "payout.paid", **options)


def failed(p: Stored, **options) -> StripeEventReceived:
    return settled(p, "payout.failed", **options)


async def outcome(db, stored: list[Stored], events: Sequence[Event]) -> dict[str, list]:
    """The payouts' rows, audit trails and announcements, with the ids that differ
    between two runs of one script replaced by their place in it; the audit chain
    checked whole."""
    names = {k: v for n, p in enumerate(stored) for k, v in p.placeholders(n).items()}
    names |= {str(e.event_id): f"event-{n}" for n, e in enumerate(events)}
    names |= {e.data.stripe_event_id: f"stripe-event-{n}" for n, e in enumerate(events)
              if isinstance(e, StripeEventReceived)}

    def same_ids(value: object) -> object:
        text = json.dumps(value, default=str, sort_keys=True)
        for real, placeholder in names.items():
            text = text.replace(real, placeholder)
        return json.loads(text)

    ids = [p.id for p in stored]
    async with db.transaction() as session:
        rows = {row.id: row for row in await session.scalars(sa.select(Payout).where(Payout.id.in_(ids)))}
        # stripe-mock makes a new reversal id each time
        names |= {rows[p.id].stripe_reversal_id: f"reversal-{n}" for n, p in enumerate(stored)
                  if rows[p.id].stripe_reversal_id}
        payouts = [same_ids({
            "state": row.state, "funds_reserved": row.funds_reserved, "gross": row.gross_minor,
            "debt": row.debt_deducted_minor, "net": row.net_minor, "reason": row.reason,
            "reason_detail": row.reason_detail, "stripe_payout_id": row.stripe_payout_id,
            "stripe_transfer_id": row.stripe_transfer_id, "stripe_reversal_id": row.stripe_reversal_id,
            "stripe_claimed_at": row.stripe_claimed_at is not None, "failure_code": row.failure_code,
            "failure_message": row.failure_message,
            # The arrival date Stripe gave, or the time a debt settled it (differs between runs).
            "paid_at": row.paid_at if row.paid_at is None or row.paid_at.timestamp() == ARRIVAL else "now",
        }) for row in (rows[i] for i in ids)]
        trail = await session.scalars(sa.select(PayoutAudit).where(PayoutAudit.payout_id.in_(ids))
                                      .order_by(PayoutAudit.seq))
        audited = [same_ids({"payout": str(row.payout_id), "old": row.old_state, "new": row.new_state,
                             "actor": row.actor_role, "reason": row.reason, "metadata": row.metadata_})
                   for row in trail]
        written = await session.execute(sa.select(outbox.c.topic, outbox.c.payload)
                                        .where(outbox.c.key.in_([p.creator_id.encode() for p in stored]))
                                        .order_by(outbox.c.id))
        announced = []
        for topic, payload in written:
            event = json.loads(payload)
            data = {**event["data"], "paid_at": "set" if event["data"].get("paid_at") else None}
            announced.append(same_ids({"topic": topic, "causation_id": event["causation_id"], "data": data}))
        chain = await session.scalars(sa.select(PayoutAudit).order_by(PayoutAudit.seq))
        assert hash_chain.first_broken_link((row.seq, row.prev_hash, row.hash, row.record()) for row in chain) is None
    return {"payouts": payouts, "audit": audited, "announced": announced}


Script = Callable[[list[Stored]], list[Event]]


async def one_by_one_and_together(db, consumer, script: Script, size: int, state: str, **columns):
    """The same script on two sets of payouts: one event per batch, then all in one batch."""
    results = []
    for together in (False, True):
        stored = await store_payouts(db, size, state, **columns)
        events = script(stored)
        await apply(consumer, events, together=together)
        assert await unapplied(db, events) == []
        results.append(await outcome(db, stored, events))
    return results


def every_kind_of_answer(stored: list[Stored]) -> list[Event]:
    """Reserved; reserved twice under two event ids, and one event delivered twice;
    all of it taken by debt (paid without Stripe); rejected, then a reservation
    arriving after it (stale); blocked for debt, then the refusal again."""
    events: list[Event] = []
    for n, p in enumerate(stored):
        match n % 5:
            case 0:
                events.append(reserved(p))
            case 1:
                twice = reserved(p, debt=1_500)
                events += [twice, reserved(p, debt=1_500), twice]
            case 2:
                events.append(reserved(p, debt=20_000))
            case 3:
                events += [rejected(p), reserved(p)]
            case 4:
                events += [rejected(p, "debt_above_threshold"), rejected(p, "debt_above_threshold")]
    return events


@pytest.mark.parametrize("size", [5, 30])
async def test_a_batch_of_ledger_answers_ends_as_one_by_one(db, consumer, size):
    one_by_one, together = await one_by_one_and_together(db, consumer, every_kind_of_answer, size, "REQUESTED")

    assert together == one_by_one
    states = [(p["state"], p["funds_reserved"]) for p in together["payouts"]]
    kinds = [("REQUESTED", True), ("REQUESTED", True), ("PAID", True), ("REJECTED", False), ("BLOCKED", False)]
    assert states == [kinds[n % 5] for n in range(size)]
    # A reservation is not announced; the second answer of a payout emits nothing.
    topics = ([], [], ["payout.paid"], ["payout.rejected"], ["payout.blocked"])
    assert [a["topic"] for a in together["announced"]] == [topic for n in range(size) for topic in topics[n % 5]]
    assert [(a["old"], a["new"], a["reason"]) for a in together["audit"]] == [
        row for n in range(size) for row in ([], [], [("REQUESTED", "PAID", "settled_by_debt")],
                                             [("REQUESTED", "REJECTED", "insufficient_available")],
                                             [("REQUESTED", "BLOCKED", "debt_above_threshold")])[n % 5]
    ]


def every_kind_of_settlement(stored: list[Stored]) -> list[Event]:
    """Paid; paid then failed (the bank refused later: the transfer is reversed);
    failed then paid (stale); paid twice under two Stripe event ids; and a
    Stripe payout that is not ours (no metadata)."""
    events: list[Event] = []
    for n, p in enumerate(stored):
        match n % 5:
            case 0:
                events.append(paid(p))
            case 1:
                events += [paid(p), failed(p)]
            case 2:
                events += [failed(p), paid(p)]
            case 3:
                events += [paid(p), paid(p)]
            case 4:
                events.append(paid(p, named=False, stripe_payout_id=f"po_elsewhere_{uuid.uuid4().hex[:8]}"))
    return events


@pytest.mark.parametrize("size", [5, 30])
async def test_a_batch_of_stripe_payout_events_ends_as_one_by_one(db, consumer, size):
    one_by_one, together = await one_by_one_and_together(db, consumer, every_kind_of_settlement, size, "PROCESSING")

    assert together == one_by_one
    states = [p["state"] for p in together["payouts"]]
    assert states == [("PAID", "FAILED", "FAILED", "PAID", "PROCESSING")[n % 5] for n in range(size)]
    failures = [a["data"] for a in together["announced"] if a["topic"] == "payout.failed"]
    assert [f["was_paid"] for f in failures] == [n % 5 == 1 for n in range(size) if n % 5 in (1, 2)]
    assert all(p["stripe_reversal_id"] for p in together["payouts"] if p["state"] == "FAILED")
    assert [a["topic"] for a in together["announced"]].count("payout.paid") == states.count("PAID") + size // 5


async def test_a_payout_event_waiting_for_its_approver_is_parked_and_the_rest_applied(db, consumer):
    """The second payout's approver is between Stripe's answer and its commit (a
    fresh claim, no Stripe payout id stored): its payout.paid waits parked; the
    third payout's approver died long ago, so its payout.failed is adopted."""

    def script(stored: list[Stored]) -> list[Event]:
        first, in_flight, abandoned = stored
        return [paid(first), paid(in_flight), failed(abandoned), paid(first)]

    results = []
    for together in (False, True):
        first = await store_payouts(db, 1, "PROCESSING")
        in_flight = await store_payouts(db, 1, "APPROVED", stripe_claimed_at=datetime.now(UTC))
        abandoned = await store_payouts(db, 1, "APPROVED", stripe_claimed_at=datetime.now(UTC) - timedelta(hours=1))
        stored = first + in_flight + abandoned
        events = script(stored)
        await apply(consumer, events, together=together)
        assert await unapplied(db, events) == [1]
        results.append(await outcome(db, stored, events))
        async with db.transaction() as session:
            waiting = (await session.execute(sa.text("SELECT event_id, waits_for FROM parked_events "
                                                     "WHERE event_id = ANY(:ids)"),
                                             {"ids": [e.event_id for e in events]})).all()
            await session.execute(sa.text("DELETE FROM parked_events WHERE event_id = ANY(:ids)"),
                                  {"ids": [e.event_id for e in events]})  # the app's sweep on this stack would retry it
        assert waiting == [(events[1].event_id, f"stripe_payout:{in_flight[0].id}")]

    one_by_one, together = results
    assert together == one_by_one
    assert [p["state"] for p in together["payouts"]] == ["PAID", "APPROVED", "FAILED"]
    assert [(a["old"], a["new"], a["reason"]) for a in together["audit"]] == [
        ("PROCESSING", "PAID", None), ("APPROVED", "PROCESSING", "recovered_from_stripe_event"),
        ("PROCESSING", "FAILED", "account_closed"),
    ]
    assert together["payouts"][2]["stripe_payout_id"] == "po-2"  # Stripe's id, adopted
    assert together["payouts"][2]["stripe_reversal_id"]  # the bank refused: the transfer was taken back


async def test_an_answer_for_a_payout_we_never_stored_alone_is_dead_lettered(infra, db, consumer):
    """A rule error fails the batch; redone record by record, the refused event
    alone goes to the dead-letter topic and the others apply as one by one."""
    stored = await store_payouts(db, 2, "REQUESTED")
    stranger = Stored(uuid.uuid4(), stored[0].creator_id, "acct_none", "po_none", "tr_none")
    refused = reserved(stranger)
    events: list[Event] = [reserved(stored[0]), refused, rejected(stored[0]), reserved(stored[1])]
    await apply(consumer, events, together=True)

    assert await unapplied(db, events) == [1]
    result = await outcome(db, stored, events)
    assert [(p["state"], p["funds_reserved"]) for p in result["payouts"]] == [("REQUESTED", True)] * 2
    assert result["audit"] == [] and result["announced"] == []  # the rejection came after the reservation: stale
    headers = await dead_lettered(infra, refused)
    assert headers["x-error-type"] == b"UnappliableEvent"
    assert f"no payout {stranger.id}".encode() in headers["x-error"]
    assert headers["x-attempts"] == b"1"  # a rule error is not retried


def account_updated(account: str, created: int, *, enabled: bool, due: Sequence[str] = ()) -> StripeEventReceived:
    event = stripe_event("account.updated", {
        "id": account, "object": "account", "payouts_enabled": enabled, "charges_enabled": enabled,
        "details_submitted": True, "requirements": {"currently_due": list(due), "disabled_reason": None},
    }, account=account)
    return event.model_copy(update={"data": event.data.model_copy(update={"created": created})})


async def store_accounts(db, count: int) -> list[str]:
    accounts = [f"acct_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    async with db.transaction() as session:
        session.add_all(PayoutAccount(creator_id=f"creator_{a}", stripe_account_id=a, stripe_event_created=100)
                        for a in accounts)
    return accounts


async def account_rows(db, accounts: list[str]) -> list[tuple]:
    async with db.transaction() as session:
        rows = {row.stripe_account_id: row for row in await session.scalars(
            sa.select(PayoutAccount).where(PayoutAccount.stripe_account_id.in_(accounts)))}
    return [(rows[a].payouts_enabled, rows[a].charges_enabled, rows[a].details_submitted, rows[a].requirements,
             rows[a].stripe_event_created) for a in accounts]


def account_history(accounts: list[str]) -> list[Event]:
    """Enabled; disabled then enabled, delivered newest first (the older one is
    stale); two updates at one second (the later delivery wins); one older than
    what is stored; and an account that is not a creator's."""
    events: list[Event] = []
    for n, a in enumerate(accounts):
        match n % 5:
            case 0:
                events.append(account_updated(a, 200, enabled=True))
            case 1:
                events += [account_updated(a, 300, enabled=True), account_updated(a, 200, enabled=False, due=["x"])]
            case 2:
                events += [account_updated(a, 200, enabled=False, due=["y"]), account_updated(a, 200, enabled=True)]
            case 3:
                events.append(account_updated(a, 50, enabled=True))
            case 4:
                events.append(account_updated(f"acct_unknown_{uuid.uuid4().hex[:8]}", 200, enabled=True))
    return events


@pytest.mark.parametrize("size", [5, 30])
async def test_a_batch_of_account_updates_ends_as_one_by_one(db, consumer, size):
    results = []
    for together in (False, True):
        accounts = await store_accounts(db, size)
        events = account_history(accounts)
        await apply(consumer, events, together=together)
        assert await unapplied(db, events) == []
        results.append(await account_rows(db, accounts))

    one_by_one, together = results
    assert together == one_by_one
    assert [(row[0], row[4]) for row in together] == [
        ((True, 200), (True, 300), (True, 200), (False, 100), (False, 100))[n % 5] for n in range(size)]


async def counted(db, gateway, events: Sequence[Event]) -> int:
    """The statements one batch of `events` costs on the consumer's fast path."""
    applier = EventApplier(handlers, Needs(stripe=gateway))
    deliveries = [Delivery(event.TOPIC, event, encode(event)) for event in events]
    with statements_run(db) as run:
        async with db.transaction() as session:
            await applier.apply_all(session, deliveries)
    return len([s for s in run if not s.lstrip().upper().startswith(("BEGIN", "COMMIT"))])


@pytest.mark.parametrize(("kind", "state"), [
    ("payout.funds_reserved", "REQUESTED"), ("payout.funds_rejected", "REQUESTED"),
    ("payout.paid", "PROCESSING"), ("payout.failed", "PROCESSING"), ("account.updated", None),
])
async def test_a_batch_takes_as_many_statements_whatever_its_size(db, gateway, kind: str, state: str | None):
    async def batch(size: int) -> list[Event]:
        if state is None:
            return [account_updated(a, 200, enabled=True) for a in await store_accounts(db, size)]
        make = {"payout.funds_reserved": reserved, "payout.funds_rejected": rejected,
                "payout.paid": paid, "payout.failed": failed}[kind]
        return [make(p) for p in await store_payouts(db, size, state)]

    await counted(db, gateway, await batch(1))  # a connection made, not counted
    counts = {size: await counted(db, gateway, await batch(size)) for size in (1, 3, 30)}
    print(f"\nstatements per batch of {kind}:", ", ".join(f"{n} events: {c}" for n, c in counts.items()))
    assert counts[1] == counts[3] == counts[30], counts
