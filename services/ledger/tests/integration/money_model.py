"""The reference model of the model-based test (test_money_model.py): a
creator's money as the design states it, knowing nothing of postings. It keeps
the creator's available, reserved and debt (debts per cause, deducted oldest
first), the facts of each payment (its entitlement restated here, not imported),
and replays deliveries with the consumer's inbox and parking rule.
"""

import uuid
from dataclasses import dataclass, field

from contracts.envelope import Event
from contracts.events.disputes import DisputeClosed, DisputeCreated
from contracts.events.payments import PaymentSucceeded
from contracts.events.payouts import (
    PayoutCanceled,
    PayoutFailed,
    PayoutPaid,
    PayoutRejected,
    PayoutRequested,
    PayoutRequestedData,
)
from contracts.events.refunds import RefundCreated, RefundFailed


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
