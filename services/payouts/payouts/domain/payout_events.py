"""A batch of events about payouts (the ledger's answers, Stripe's payout.paid and
payout.failed) decided in delivery order, without I/O.

Each event's transition is taken on the payout as the events before it in the
batch left it, so a batch ends where applying its events one at a time ends:
the same payout answered twice moves once, a payout paid then failed moves
twice, an answer its state refuses is ignored.
"""

import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from contracts.events.payouts import FundsRejectedData, FundsReservedData
from payouts.domain.approval import UnrecordedStripePayout, unrecorded_stripe_payout
from payouts.domain.audit import STRIPE, SYSTEM, Actor
from payouts.domain.errors import UnappliableEvent
from payouts.domain.transitions import Move, Stage, Trigger, decide_for, funds_rejection_trigger, funds_reserved_trigger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PayoutRow:
    """A payout's stored columns that these events read or change."""

    id: uuid.UUID
    creator_id: str
    currency: str
    state: str
    funds_reserved: bool
    requested_minor: int | None  # minor units, like every *_minor
    gross_minor: int | None
    debt_deducted_minor: int | None
    net_minor: int | None
    reason: str | None
    reason_detail: str | None
    stripe_account_id: str | None
    stripe_transfer_id: str | None
    stripe_payout_id: str | None
    stripe_reversal_id: str | None
    stripe_claimed_at: datetime | None
    stripe_error_code: str | None
    stripe_error_message: str | None
    failure_code: str | None
    failure_message: str | None
    paid_at: datetime | None

    @property
    def amount_minor(self) -> int | None:
        """Gross once reserved, else what was asked."""
        return self.gross_minor if self.gross_minor is not None else self.requested_minor


@dataclass(frozen=True)
class Transition:
    """A change of state to audit and announce, caused by the batch's `cause`-th event."""

    cause: int
    old_state: str
    payout: PayoutRow  # as it entered the new state
    actor: Actor
    reason: str | None
    metadata: dict[str, Any]


class StripePayoutInFlight(Exception):
    """The batch's `cause`-th event names a payout whose approver is between
    Stripe's answer and its commit: the event waits (parked) for it."""

    def __init__(self, cause: int, payout_id: uuid.UUID) -> None:
        super().__init__(f"payout {payout_id} is being submitted to Stripe")
        self.cause = cause
        self.payout_id = payout_id


def payout_id_of(name: str) -> uuid.UUID | None:
    """The payout id an event names; None when the name is no id (it names no payout)."""
    try:
        return uuid.UUID(name)
    except ValueError:
        return None


def payout_ids(names: Iterable[str | None]) -> list[uuid.UUID]:
    """The payout ids among what a batch's events name, sorted, once each."""
    return sorted({found for name in names if name and (found := payout_id_of(name)) is not None})


class Payouts:
    """The payouts a batch reads, as its events decided so far leave them: the
    rows to write back, and the changes of state in delivery order."""

    def __init__(self, rows: Iterable[PayoutRow]) -> None:
        self._rows = {row.id: row for row in rows}
        self.changed: dict[uuid.UUID, PayoutRow] = {}
        self.transitions: list[Transition] = []

    def named(self, payout_id: str) -> PayoutRow:
        named_id = payout_id_of(payout_id)
        found = None if named_id is None else self._rows.get(named_id)
        if found is None:
            # payout.requested is ours: nobody can name a payout we never stored.
            raise UnappliableEvent(f"no payout {payout_id}")
        return found

    def with_stripe_payout(self, stripe_payout_id: str) -> PayoutRow | None:
        return next((row for row in self._rows.values() if row.stripe_payout_id == stripe_payout_id), None)

    def enter(self, payout: PayoutRow, outcome: Move, cause: int, actor: Actor, changes: dict[str, Any], *,
              reason: str | None = None, metadata: dict[str, Any] | None = None) -> PayoutRow:
        """The payout in the outcome's stage with its columns `changes` made; a change
        of state is a transition (audited for `reason`), the reservation (REQUESTED
        with funds) is not."""
        moved = replace(payout, **{"funds_reserved": payout.funds_reserved or outcome.to is Stage.RESERVED,
                                   **changes, "state": outcome.to.state})
        self._rows[moved.id] = self.changed[moved.id] = moved
        if moved.state != payout.state:
            self.transitions.append(Transition(cause, payout.state, moved, actor, reason, metadata or {}))
        return moved

    def reversed(self, payout_id: uuid.UUID, transfer_id: str, reversal_id: str) -> None:
        """Stripe took back the failed payout's transfer: stored with its last
        transition (the failure: nothing moves a FAILED payout on)."""
        moved = replace(self.changed[payout_id], stripe_transfer_id=transfer_id, stripe_reversal_id=reversal_id)
        self._rows[payout_id] = self.changed[payout_id] = moved
        last = max(n for n, t in enumerate(self.transitions) if t.payout.id == payout_id)
        failure = self.transitions[last]
        self.transitions[last] = replace(failure, payout=moved,
                                         metadata={**failure.metadata, "stripe_reversal_id": reversal_id})


def funds_reserved(payouts: Payouts, answers: Iterable[FundsReservedData], now: datetime) -> None:
    for cause, data in enumerate(answers):
        payout = payouts.named(data.payout_id)
        net = data.net_minor if data.net_minor is not None else data.amount_minor - data.debt_deducted_minor
        outcome = decide_for(payout, funds_reserved_trigger(net))
        if not isinstance(outcome, Move):
            continue
        # Everything went to the creator's debt: settled without any Stripe call.
        settled = outcome.to is Stage.PAID
        payouts.enter(
            payout, outcome, cause, SYSTEM,
            {"gross_minor": data.amount_minor, "debt_deducted_minor": data.debt_deducted_minor, "net_minor": net,
             "funds_reserved": True, "paid_at": now if settled else payout.paid_at},
            reason="settled_by_debt" if settled else None,
            metadata={"deductions": [d.model_dump() for d in data.deductions]},
        )


def funds_rejected(payouts: Payouts, answers: Iterable[FundsRejectedData]) -> None:
    for cause, data in enumerate(answers):
        payout = payouts.named(data.payout_id)
        outcome = decide_for(payout, funds_rejection_trigger(data.reason))
        if isinstance(outcome, Move):
            payouts.enter(
                payout, outcome, cause, SYSTEM, {"reason": data.reason, "reason_detail": data.detail},
                reason=data.reason,
                metadata={"detail": data.detail, "available_minor": data.available_minor,
                          "debt_minor": data.debt_minor},
            )


@dataclass(frozen=True)
class StripePayoutEvent:
    """What a Connect payout.* event tells: the Stripe payout, on which account, in which Stripe event."""

    stripe_payout: dict[str, Any]
    account: str | None
    stripe_event_id: str

    @property
    def ours(self) -> str | None:
        """The payout id our approver put in the Stripe payout's metadata."""
        return (self.stripe_payout.get("metadata") or {}).get("payout_id")


def payouts_paid(payouts: Payouts, events: Iterable[StripePayoutEvent], now: datetime) -> None:
    for cause, event, payout, outcome in _moving(payouts, events, Trigger.STRIPE_PAID, now):
        arrival = event.stripe_payout.get("arrival_date")
        paid_at = datetime.fromtimestamp(arrival, UTC) if isinstance(arrival, int) else now
        payouts.enter(payout, outcome, cause, STRIPE, {"paid_at": paid_at},
                      metadata={"stripe_event_id": event.stripe_event_id})


def payouts_failed(payouts: Payouts, events: Iterable[StripePayoutEvent], now: datetime) -> list[PayoutRow]:
    """The failures to apply; each one's transfer is to be reversed at Stripe
    (`Payouts.reversed`) before its audit row is written."""
    failed = []
    for cause, event, payout, outcome in _moving(payouts, events, Trigger.STRIPE_FAILED, now):
        failure_code = event.stripe_payout.get("failure_code")
        failed.append(payouts.enter(
            payout, outcome, cause, STRIPE,
            {"failure_code": failure_code, "failure_message": event.stripe_payout.get("failure_message")},
            reason=failure_code,
            metadata={"stripe_event_id": event.stripe_event_id, "was_paid": payout.paid_at is not None},
        ))
    return failed


def _moving(
    payouts: Payouts, events: Iterable[StripePayoutEvent], trigger: Trigger, now: datetime
) -> Iterator[tuple[int, StripePayoutEvent, PayoutRow, Move]]:
    """The events that move their payout (ours, neither stale nor repeated), each
    with its payout as the events before it left it (the caller enters each move
    before the next is decided)."""
    for cause, event in enumerate(events):
        payout = _stripe_payout(payouts, cause, event, now)
        if payout is not None and isinstance(outcome := decide_for(payout, trigger), Move):
            yield cause, event, payout, outcome


def _stripe_payout(payouts: Payouts, cause: int, event: StripePayoutEvent, now: datetime) -> PayoutRow | None:
    """Our payout for the event's Stripe payout; None for a payout that is not ours."""
    stripe_payout_id = event.stripe_payout.get("id", "")
    if (payout := payouts.with_stripe_payout(stripe_payout_id)) is not None:
        return payout
    if not event.ours:
        log.info("stripe payout %s is not one of ours; ignored", stripe_payout_id)
        return None
    payout = payouts.named(event.ours)
    action = unrecorded_stripe_payout(payout.state, payout.stripe_payout_id, payout.stripe_claimed_at, now)
    if action is UnrecordedStripePayout.WAIT:
        # The approver is between Stripe's answer and its commit. It is an HTTP
        # request, not a handler, so the parking sweep (every few seconds)
        # retries the event; if the approver died, its claim goes stale and the
        # retry adopts Stripe's id.
        raise StripePayoutInFlight(cause, payout.id)
    if action is UnrecordedStripePayout.UNEXPECTED:
        raise UnappliableEvent(
            f"stripe payout {stripe_payout_id} names payout {payout.id}, which is {payout.state} "
            f"with stripe payout {payout.stripe_payout_id}"
        )
    return _adopted(payouts, cause, payout, event)


def _adopted(payouts: Payouts, cause: int, payout: PayoutRow, event: StripePayoutEvent) -> PayoutRow:
    """Take the id of the Stripe payout our dead approver made (Stripe's signed
    event names our payout in its metadata): PROCESSING, as the approver would have."""
    stripe_payout_id, amount = event.stripe_payout["id"], event.stripe_payout.get("amount")
    if event.account != payout.stripe_account_id or isinstance(amount, int) and amount != payout.net_minor:
        raise UnappliableEvent(
            f"stripe payout {stripe_payout_id} ({amount} on {event.account}) does not match payout {payout.id} "
            f"({payout.net_minor} on {payout.stripe_account_id})"
        )
    outcome = decide_for(payout, Trigger.STRIPE_SUBMITTED)
    assert isinstance(outcome, Move)  # APPROVED, checked by unrecorded_stripe_payout
    log.warning("payout %s: adopting stripe payout %s its approver never stored", payout.id, stripe_payout_id)
    return payouts.enter(
        payout, outcome, cause, SYSTEM,
        {"stripe_payout_id": stripe_payout_id, "stripe_error_code": None, "stripe_error_message": None,
         "stripe_claimed_at": None},
        reason="recovered_from_stripe_event",
        metadata={"stripe_account_id": payout.stripe_account_id, "stripe_event_id": event.stripe_event_id},
    )
