"""Model-based: random lives of one creator's money, applied through the real
ledger handlers on the real PostgreSQL, against a pure reference model.

A generator plays payments and payouts: payments (with fees), partial refunds,
refunds failing after they succeeded (or before), disputes (funds withdrawn
with their fee, a counter fee, won with the funds reinstated or lost, or still
open), payout requests (an amount or all available) then rejected, canceled,
failed, paid or failed after paid. Each event type is its own Kafka topic, so
the ledger reads them as any interleaving of the topics that keeps each
topic's order; some events come twice (redelivered, or announced again by a
new event). Each delivery goes through the consumer's own path
(`EventApplier.apply_or_park`: inbox, handler, parking and release).

The model knows nothing of postings: it keeps the creator's available,
reserved and debt (debts per cause, deducted oldest first), the facts of each
payment, and replays the same deliveries with the same parking rule. After
every example the creator's available, disputed, reserved and debt equal the
model's, to the unit; the creator's total equals what the final facts entitle
them to, whatever the order; nothing stays parked; the ledger's invariant
check (ledger.invariants.Audit, what `python -m ledger check` runs) passes on
the creator's journal, debts and reservations; and each payment's own entries
give the creator exactly ledger.entitlement's creator_entitlement and
frozen_share at the payment's totals.

One connection serves every example; each runs in a transaction rolled back at
its end, so examples cost no clean-up and never see each other.
"""

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.applying import Delivery, EventApplier
from common.db import Database, migrate
from common.kafka import encode
from common.tables import parked_events
from contracts.envelope import Event
from contracts.events.disputes import (
    DisputeClosed,
    DisputeClosedData,
    DisputeCreated,
    DisputeData,
    DisputeFundsData,
    DisputeFundsReinstated,
    DisputeFundsWithdrawn,
)
from contracts.events.payments import PaymentFeeRecorded, PaymentFeeRecordedData, PaymentSucceeded, PaymentSucceededData
from contracts.events.payouts import (
    PayoutCanceled,
    PayoutDecisionData,
    PayoutFailed,
    PayoutFailedData,
    PayoutPaid,
    PayoutPaidData,
    PayoutRejected,
    PayoutRequested,
    PayoutRequestedData,
)
from contracts.events.refunds import RefundCreated, RefundCreatedData, RefundFailed, RefundFailedData
from ledger import domain, entitlement, handlers, models
from ledger.invariants import Audit, DebtRecord, EntryRecord, ReservationRecord
from ledger.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
CURRENCY = "EUR"
EXAMPLES = 500


# ---------------------------------------------------------------- the lives

def _owed_back(share: int, taken: int, price: int) -> int:
    return share * min(taken, price) // price


@st.composite
def lives(draw, creator: str) -> list[Event]:
    """One creator's events in the order payments and payouts emit them."""
    events: list[Event] = []
    payments: list[dict] = []
    ids = iter(range(1, 10_000))

    def new_id(prefix: str) -> str:
        return f"{prefix}_{next(ids)}"

    def emit(model: type[Event], data) -> None:
        events.append(model.new(data, producer="test", creator_id=creator))

    def dispute_data(payment: dict, dispute: dict, status: str) -> dict:
        return dict(
            dispute_id=dispute["id"], stripe_dispute_id=f"dp_{dispute['id']}", payment_id=payment["id"],
            creator_id=creator, amount_minor=dispute["amount"], currency=CURRENCY,
            creator_share_minor=dispute["share"], status=status,
        )

    def dispute_funds(model: type[Event], payment: dict, dispute: dict, amount: int, fee: int) -> None:
        transaction = new_id("txn")
        emit(model, DisputeFundsData(
            dispute_id=dispute["id"], payment_id=payment["id"], creator_id=creator, amount_minor=amount,
            fee_minor=fee, currency=CURRENCY, stripe_balance_transaction_id=transaction,
            stripe_balance_transaction_ids=[transaction],
        ))

    for _ in range(draw(st.integers(1, 14))):
        step = draw(st.sampled_from(
            ["pay", "pay", "refund", "refund", "refund_fails", "dispute", "dispute_closes", "payout", "payout"]
        ))
        if step == "pay" or not payments:
            price = draw(st.integers(50, 20_000))
            payment = {"id": new_id("pay"), "price": price, "share": -(-price * 8500 // 10000), "taken": 0,
                       "refunds": {}, "dispute": None, "disputed": False}
            payments.append(payment)
            emit(PaymentSucceeded, PaymentSucceededData(
                payment_id=payment["id"], fan_id="fan", creator_id=creator, price_minor=price,
                creator_share_minor=payment["share"], platform_fee_minor=price - payment["share"], currency=CURRENCY,
                stripe_payment_intent_id=f"pi_{payment['id']}", succeeded_at=datetime.now(UTC),
            ))
            if draw(st.booleans()):
                emit(PaymentFeeRecorded, PaymentFeeRecordedData(
                    payment_id=payment["id"], creator_id=creator, fee_minor=draw(st.integers(0, 500)),
                    currency=CURRENCY, stripe_balance_transaction_id=new_id("txn"),
                ))
            continue
        payment = draw(st.sampled_from(payments))
        left = payment["price"] - payment["taken"]
        if step == "refund" and left > 0:
            amount = draw(st.integers(1, left))
            refund_id = new_id("ref")
            clawback = _owed_back(payment["share"], payment["taken"] + amount, payment["price"]) - _owed_back(
                payment["share"], payment["taken"], payment["price"])
            payment["taken"] += amount
            payment["refunds"][refund_id] = amount
            emit(RefundCreated, RefundCreatedData(
                refund_id=refund_id, payment_id=payment["id"], creator_id=creator, stripe_refund_id=f"re_{refund_id}",
                amount_minor=amount, currency=CURRENCY, creator_clawback_minor=clawback,
                refunded_total_minor=sum(payment["refunds"].values()),
            ))
        elif step == "refund_fails":
            succeeded = bool(payment["refunds"]) and draw(st.booleans())
            if succeeded:
                refund_id = draw(st.sampled_from(sorted(payment["refunds"])))
                amount = payment["refunds"].pop(refund_id)
                payment["taken"] -= amount
            else:  # a refund that failed before it ever succeeded: nothing to reverse
                refund_id, amount = new_id("ref"), draw(st.integers(1, payment["price"]))
            emit(RefundFailed, RefundFailedData(
                refund_id=refund_id, payment_id=payment["id"], creator_id=creator, amount_minor=amount,
                currency=CURRENCY, creator_clawback_minor=0, was_succeeded=succeeded,
            ))
        elif step == "dispute" and left > 0 and not payment["disputed"]:
            amount = draw(st.integers(1, left))
            share = _owed_back(payment["share"], payment["taken"] + amount, payment["price"]) - _owed_back(
                payment["share"], payment["taken"], payment["price"])
            dispute = {"id": new_id("dsp"), "amount": amount, "share": share}
            payment["dispute"], payment["disputed"] = dispute, True  # one dispute per charge
            payment["taken"] += amount
            emit(DisputeCreated, DisputeData(**dispute_data(payment, dispute, "needs_response")))
            dispute_funds(DisputeFundsWithdrawn, payment, dispute, amount, draw(st.sampled_from([1500, 2000])))
        elif step == "dispute_closes" and payment["dispute"] is not None:
            dispute, payment["dispute"] = payment["dispute"], None
            counter_fee = draw(st.sampled_from([0, 1500]))
            if counter_fee:
                dispute_funds(DisputeFundsWithdrawn, payment, dispute, 0, counter_fee)
            outcome = draw(st.sampled_from(["won", "lost"]))
            if outcome == "won":
                payment["taken"] -= dispute["amount"]
                dispute_funds(DisputeFundsReinstated, payment, dispute, dispute["amount"], counter_fee)
            emit(DisputeClosed, DisputeClosedData(**dispute_data(payment, dispute, outcome), outcome=outcome))
        elif step == "payout":
            payout_id = new_id("po")
            requested = draw(st.none() | st.integers(1, 20_000))
            emit(PayoutRequested, PayoutRequestedData(
                payout_id=payout_id, creator_id=creator, currency=CURRENCY, amount_minor=requested,
                minimum_minor=draw(st.sampled_from([0, 1000])), requested_by=creator,
            ))
            # payouts moves on whatever the ledger answered; after a refusal the ledger ignores it
            outcome = draw(st.sampled_from(["pending", "rejected", "canceled", "failed", "paid", "paid_then_failed"]))
            decision = dict(payout_id=payout_id, creator_id=creator, currency=CURRENCY, amount_minor=requested or 0)
            if outcome in ("rejected", "canceled"):
                emit(PayoutRejected if outcome == "rejected" else PayoutCanceled,
                     PayoutDecisionData(**decision, actor_id="admin"))
            elif outcome == "failed":
                emit(PayoutFailed, PayoutFailedData(**decision, was_paid=False))
            elif outcome != "pending":
                emit(PayoutPaid, PayoutPaidData(**decision, stripe_payout_id=f"po_{payout_id}",
                                                paid_at=datetime.now(UTC)))
                if outcome == "paid_then_failed":
                    emit(PayoutFailed, PayoutFailedData(**decision, was_paid=True))
    return events


@st.composite
def deliveries(draw, events: list[Event]) -> list[Event]:
    """What the ledger reads: each topic in its order, the topics interleaved at
    random; some events twice (the same event redelivered, or a new event
    announcing the same thing), later on their topic."""
    queues: dict[str, list[Event]] = {}
    for event in events:
        queues.setdefault(event.TOPIC, []).append(event)
    for topic, queue in queues.items():
        for event in list(queue):
            again = draw(st.sampled_from(["no", "no", "no", "no", "redelivered", "announced_again"]))
            if again == "no":
                continue
            copy = event if again == "redelivered" else type(event).new(event.data, producer="test",
                                                                        creator_id=event.creator_id)
            queue.insert(draw(st.integers(queue.index(event) + 1, len(queue))), copy)
    delivered = []
    while any(queues.values()):
        topic = draw(st.sampled_from(sorted(t for t, q in queues.items() if q)))
        delivered.append(queues[topic].pop(0))
    return delivered


# ---------------------------------------------------------------- the model

class NotReady(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


@dataclass
class Debt:
    cause: tuple[str, str]  # ("refund" | "dispute", id)
    remaining: int
    reversed: int = 0


@dataclass
class Reservation:
    status: str  # RESERVED | REFUSED | RELEASED | PAID | FAILED
    gross: int = 0
    deductions: list[tuple[Debt, int]] = field(default_factory=list)

    @property
    def deducted(self) -> int:
        return sum(amount for _, amount in self.deductions)

    @property
    def net(self) -> int:
        return self.gross - self.deducted


@dataclass
class Payment:
    price: int
    share: int
    refunds: dict[str, list] = field(default_factory=dict)  # id -> [amount, "ok" | "failed"]
    disputes: dict[str, list] = field(default_factory=dict)  # id -> [amount, "open" | "won" | "lost"]

    def taken(self, *, with_open: bool = True) -> int:
        refunded = sum(a for a, s in self.refunds.values() if s == "ok")
        disputed = sum(a for a, s in self.disputes.values() if s == "lost" or (with_open and s == "open"))
        return min(self.price, refunded + disputed)

    def entitled(self, *, with_open: bool = True) -> int:
        """The creator's part: the share less the share of what went back, rounded for the creator."""
        return self.share - self.share * self.taken(with_open=with_open) // self.price

    def frozen(self) -> int:
        return self.entitled(with_open=False) - self.entitled()


class Model:
    """The creator's money as the design states it, applied in delivery order
    with the ledger's parking rule: an event read before the one it builds on
    waits, and is applied right after it, in the order it was parked."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.applied: set[uuid.UUID] = set()
        self.parked: list[tuple[int, Event, str]] = []  # (row id, event, what it waits for), as parked_events
        self.parked_rows = iter(range(1, 1_000_000))
        self.posted: set[str] = set()
        self.payments: dict[str, Payment] = {}
        self.available = self.reserved = self.paid_out = 0
        self.debts: list[Debt] = []  # oldest first
        self.payouts: dict[str, Reservation] = {}

    @property
    def debt(self) -> int:
        return sum(d.remaining for d in self.debts)

    @property
    def disputed(self) -> int:
        return sum(p.frozen() for p in self.payments.values())

    def deliver(self, event: Event) -> None:
        if event.event_id in self.applied:
            return
        try:
            announced = self.apply(event)
        except NotReady as wait:
            if all(parked.event_id != event.event_id for _, parked, _ in self.parked):
                self.parked.append((next(self.parked_rows), event, wait.key))
            return
        self.applied.add(event.event_id)
        self.posted |= announced
        # those waiting for what this event posted, oldest first, each taken out and delivered again
        for row in [row for row in self.parked if row[2] in announced]:
            if row in self.parked:
                self.parked.remove(row)
            self.deliver(row[1])

    def need(self, key: str) -> None:
        if key not in self.posted:
            raise NotReady(key)

    def take(self, amount: int, cause: tuple[str, str]) -> None:
        covered = min(max(self.available, 0), amount)
        self.available -= covered
        if amount > covered:
            self.debts.append(Debt(cause, amount - covered))

    def apply(self, event: Event) -> set[str]:
        """The event's effect; what it makes ready for parked events."""
        data = event.data
        match event:
            case PaymentSucceeded():
                if data.payment_id in self.payments:
                    return set()
                self.payments[data.payment_id] = Payment(data.price_minor, data.creator_share_minor)
                self.available += data.creator_share_minor
                return {f"payment:{data.payment_id}"}
            case RefundCreated():
                self.need(f"payment:{data.payment_id}")
                payment = self.payments[data.payment_id]
                if data.refund_id in payment.refunds:
                    return set()
                before = payment.entitled()
                payment.refunds[data.refund_id] = [data.amount_minor, "ok"]
                self.take(before - payment.entitled(), ("refund", data.refund_id))
                return {f"refund:{data.refund_id}"}
            case RefundFailed():
                if not data.was_succeeded:
                    return set()
                self.need(f"refund:{data.refund_id}")
                payment = self.payments[data.payment_id]
                refund = payment.refunds[data.refund_id]
                if refund[1] != "ok":
                    return set()
                before = payment.entitled()
                refund[1] = "failed"
                given_back = payment.entitled() - before
                # what the refund still has open as debt is cancelled first
                for debt in self.debts:
                    if debt.cause == ("refund", data.refund_id):
                        cancelled = min(debt.remaining, given_back)
                        debt.remaining -= cancelled
                        debt.reversed += cancelled
                        given_back -= cancelled
                self.available += given_back
                return set()
            case DisputeCreated():
                self.need(f"payment:{data.payment_id}")
                payment = self.payments[data.payment_id]
                if data.dispute_id in payment.disputes:
                    return set()
                before = payment.entitled()
                payment.disputes[data.dispute_id] = [data.amount_minor, "open"]
                self.take(before - payment.entitled(), ("dispute", data.dispute_id))
                return {f"dispute:{data.dispute_id}"}
            case DisputeClosed():
                self.need(f"dispute:{data.dispute_id}")
                payment = self.payments[data.payment_id]
                dispute = payment.disputes[data.dispute_id]
                if dispute[1] != "open":
                    return set()
                before = payment.entitled()
                dispute[1] = data.outcome
                self.available += payment.entitled() - before  # won: back to available; lost: nothing moves
                return set()
            case PayoutRequested():
                return self.request(data)
            case PayoutRejected() | PayoutCanceled() | PayoutPaid() | PayoutFailed():
                return self.payout_step(event)
        return set()  # fees and dispute funds: the platform's and Stripe's, never the creator's

    def request(self, data: PayoutRequestedData) -> set[str]:
        ready = {f"payout:{data.payout_id}"}
        if data.payout_id in self.payouts:
            return set()
        asked = self.available if data.amount_minor is None else min(data.amount_minor, max(self.available, 0))
        gross = self.available if data.amount_minor is None else data.amount_minor
        if (
            not self.payments  # no balance in this currency yet
            or self.debt - max(asked, 0) > self.threshold
            or (data.amount_minor is not None and data.amount_minor < data.minimum_minor)
            or not 0 < gross <= self.available
            or gross < data.minimum_minor
        ):
            self.payouts[data.payout_id] = Reservation("REFUSED")
            return ready
        reservation = Reservation("RESERVED", gross)
        left = gross
        for debt in self.debts:
            taken = min(debt.remaining, left)
            if taken:
                debt.remaining -= taken
                left -= taken
                reservation.deductions.append((debt, taken))
        self.available -= gross
        self.reserved += reservation.net
        self.payouts[data.payout_id] = reservation
        return ready

    def give_back(self, reservation: Reservation) -> None:
        """The gross back to available, the deducted debt owed again, except a
        debt whose refund failed meanwhile: that part was given back already."""
        for debt, amount in reservation.deductions:
            if debt.cause[0] == "refund" and self.refund_failed(debt.cause[1]):
                debt.reversed += amount
                self.available -= amount
            else:
                debt.remaining += amount
        self.available += reservation.gross

    def refund_failed(self, refund_id: str) -> bool:
        return any(p.refunds.get(refund_id, [0, ""])[1] == "failed" for p in self.payments.values())

    def payout_step(self, event: Event) -> set[str]:
        data = event.data
        self.need(f"payout:{data.payout_id}")
        reservation = self.payouts[data.payout_id]
        if isinstance(event, PayoutFailed) and data.was_paid and reservation.status == "RESERVED":
            raise NotReady(f"paid:{data.payout_id}")
        if reservation.status == "RESERVED" and isinstance(event, PayoutPaid):
            reservation.status = "PAID"
            self.reserved -= reservation.net
            self.paid_out += reservation.net
            return {f"paid:{data.payout_id}"}
        if reservation.status == "RESERVED":
            reservation.status = "FAILED" if isinstance(event, PayoutFailed) else "RELEASED"
            self.reserved -= reservation.net
            self.give_back(reservation)
        elif reservation.status == "PAID" and isinstance(event, PayoutFailed):
            reservation.status = "FAILED"
            self.paid_out -= reservation.net
            self.give_back(reservation)
        return set()


# ---------------------------------------------------------------- the ledger

@pytest.fixture(scope="module")
def ledger_db(infra):
    """One connection to the ledger's database, on a loop of the module's own
    (hypothesis runs the examples synchronously)."""
    settings = Settings()
    migrate(MIGRATIONS, settings.database_url)
    with asyncio.Runner() as runner:
        database = Database(settings.database_url, pool_size=1)
        yield runner, database
        runner.run(database.dispose())


async def audit(session, creator: str) -> Audit:
    """`python -m ledger check`'s rules over this creator's journal, debts and reservations."""
    result = Audit()
    rows = await session.execute(
        sa.select(models.JournalEntry.id, models.JournalEntry.cause_event_id, models.JournalEntry.kind,
                  models.PostingRow.account, models.PostingRow.currency, models.PostingRow.amount_minor)
        .join(models.PostingRow, models.PostingRow.entry_id == models.JournalEntry.id)
        .where(models.JournalEntry.creator_id == creator)
        .order_by(models.JournalEntry.created_at, models.JournalEntry.id, models.PostingRow.id)
    )
    entries: dict[uuid.UUID, tuple[str, str, list]] = {}
    for entry_id, cause, kind, account, currency, amount in rows:
        entries.setdefault(entry_id, (str(cause), kind, []))[2].append(
            domain.Posting(account, int(amount), currency))
    for entry_id, (cause, kind, postings) in entries.items():
        result.add_entry(EntryRecord(str(entry_id), cause, kind, tuple(postings)))
    debts = await session.scalars(sa.select(models.Debt).where(models.Debt.creator_id == creator))
    result.check_debts(
        DebtRecord(str(d.id), d.creator_id, d.currency, d.amount_minor, d.remaining_minor, d.reversed_minor, d.status)
        for d in debts
    )
    reservations = await session.scalars(
        sa.select(models.PayoutReservation).where(models.PayoutReservation.creator_id == creator))
    result.check_reservations(
        ReservationRecord(r.payout_id, r.creator_id, r.currency, r.gross_minor, r.debt_deducted_minor, r.net_minor,
                          r.status)
        for r in reservations
    )
    return result


async def posted_on_payment(session, creator: str, payment_id: str) -> tuple[int, int]:
    """What the payment's own entries (its payment, refunds and disputes; not the
    payouts, which are the creator's, not a payment's) give the creator: owed
    outright (available less debt) and frozen (disputed)."""
    references = sa.select(models.PaymentTakeback.reference).where(models.PaymentTakeback.payment_id == payment_id)
    rows = await session.execute(
        sa.select(models.PostingRow.account, sa.func.sum(models.PostingRow.amount_minor))
        .join(models.JournalEntry, models.JournalEntry.id == models.PostingRow.entry_id)
        .where(sa.or_(
            sa.and_(models.JournalEntry.kind == "payment", models.JournalEntry.reference == f"payment:{payment_id}"),
            sa.and_(models.JournalEntry.kind.in_(["refund", "refund_reversal", "dispute_opened", "dispute_closed"]),
                    models.JournalEntry.reference.in_(references)),
        ))
        .group_by(models.PostingRow.account)
    )
    sums = {account: int(total) for account, total in rows}
    owed = -sums.get(f"creator:{creator}:available", 0) - sums.get(f"creator:{creator}:debt", 0)
    return owed, -sums.get(f"creator:{creator}:disputed", 0)


async def entitled_on_payment(session, payment_id: str) -> tuple[int, int]:
    """What the entitlement function gives at the payment's totals as the ledger holds them."""
    _, totals = await models.payment_totals_for_update(session, payment_id)
    return entitlement.creator_entitlement(totals), entitlement.frozen_share(totals)


async def run_through_the_ledger(database: Database, creator: str, delivered: list[Event], model: Model) -> None:
    applier = EventApplier(handlers.handlers)
    session = database.sessions()
    await session.begin()
    try:
        for event in delivered:
            await applier.apply_or_park(session, Delivery(event.TOPIC, event, encode(event)))
        balance = await models.creator_balance(session, creator, CURRENCY)
        assert (balance.available_minor, balance.disputed_minor, balance.reserved_minor, balance.debt_minor) == (
            model.available, model.disputed, model.reserved, model.debt
        ), delivered
        still_parked = await session.scalar(
            sa.select(sa.func.count()).where(parked_events.c.event_id.in_([e.event_id for e in delivered])))
        assert still_parked == 0 and model.parked == []
        checked = await audit(session, creator)
        assert checked.problems == []
        for payment_id in model.payments:
            assert await posted_on_payment(session, creator, payment_id) == await entitled_on_payment(
                session, payment_id)
    finally:
        await session.rollback()
        await session.close()


@pytest.mark.timeout(900)  # a bound for a stuck database, far above the run's time
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_interleaving_of_a_creators_money_gives_the_models_balances_to_the_unit(ledger_db, data) -> None:
    runner, database = ledger_db
    creator = f"creator_model_{uuid.uuid4().hex[:12]}"
    events = data.draw(lives(creator), label="events in the order they were emitted")
    delivered = data.draw(deliveries(events), label="events in the order the ledger read them")

    model = Model(threshold=Settings().debt_block_threshold_minor)
    for event in delivered:
        model.deliver(event)
    # whatever the order, the creator ends with what the final facts entitle them to
    assert model.available + model.disputed + model.reserved - model.debt + model.paid_out == sum(
        p.entitled(with_open=False) for p in model.payments.values())

    runner.run(run_through_the_ledger(database, creator, delivered, model))
