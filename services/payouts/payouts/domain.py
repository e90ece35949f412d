"""The payout workflow's pure rules: the transition table, amount checks,
separation of duties, and the audit chain's hashing. No I/O.

A payout's stored state is one of `State`. For deciding, REQUESTED is split in
two stages: before the ledger's answer (`REQUESTED`) and after it reserved the
funds (`RESERVED`, stored as REQUESTED with `funds_reserved`). Every stage ×
trigger pair is in `TRANSITIONS`: a move, an ignore (a stale or repeated event,
logged) or a refusal (a command that is not allowed now, an error to the caller).
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

GENESIS_HASH = "0" * 64  # prev_hash of the first audit row

# An APPROVED payout whose Stripe steps were claimed longer ago than this and
# never finished (the process died mid-way) may be resumed by a new approve.
STALE_STRIPE_CLAIM = timedelta(minutes=10)


class State(StrEnum):
    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    PROCESSING = "PROCESSING"
    PAID = "PAID"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    CANCELED = "CANCELED"
    BLOCKED = "BLOCKED"


class Stage(StrEnum):
    """What the table is keyed on: the state, with REQUESTED split by the reservation."""

    REQUESTED = "REQUESTED"  # waiting for the ledger's answer
    RESERVED = "RESERVED"  # REQUESTED, funds reserved: approvable
    APPROVED = "APPROVED"
    PROCESSING = "PROCESSING"
    PAID = "PAID"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    CANCELED = "CANCELED"
    BLOCKED = "BLOCKED"

    @property
    def state(self) -> State:
        return State.REQUESTED if self is Stage.RESERVED else State(self.value)


def stage_of(state: State | str, funds_reserved: bool) -> Stage:
    state = State(state)
    if state is State.REQUESTED and funds_reserved:
        return Stage.RESERVED
    return Stage(state.value)


class Trigger(StrEnum):
    APPROVE = "approve"  # admin
    REJECT = "reject"  # admin, with a reason
    CANCEL = "cancel"  # the owning creator
    FUNDS_RESERVED = "funds_reserved"  # ledger, net > 0
    FUNDS_RESERVED_ALL_TO_DEBT = "funds_reserved_all_to_debt"  # ledger, net == 0: settled without Stripe
    FUNDS_REJECTED = "funds_rejected"  # ledger, any reason but debt
    FUNDS_REJECTED_FOR_DEBT = "funds_rejected_for_debt"  # ledger, debt above the threshold
    STRIPE_SUBMITTED = "stripe_submitted"  # our Transfer and Payout were created at Stripe
    STRIPE_PAID = "stripe_paid"  # Connect webhook payout.paid
    STRIPE_FAILED = "stripe_failed"  # Connect webhook payout.failed
    VOID = "void"  # admin: the Stripe payout cannot be made; reverse the transfer, release the funds


class PayoutError(Exception):
    """Base of payouts' domain errors; `status` and `reason` shape the problem details."""

    status = 409
    reason = "payout_error"


class InvalidAmount(PayoutError):
    status = 422
    reason = "invalid_amount"


class BelowMinimum(PayoutError):
    status = 422
    reason = "below_minimum"


class CurrencyNotHeld(PayoutError):
    status = 422
    reason = "currency_mismatch"


class ReasonRequired(PayoutError):
    status = 422
    reason = "reason_required"


class PayoutNotFound(PayoutError):
    status = 404
    reason = "not_found"


class PayoutAccountNotReady(PayoutError):
    """No connected account yet, or Stripe does not let it receive payouts."""

    status = 409

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class IdempotencyKeyReused(PayoutError):
    status = 409
    reason = "idempotency_key_reused"


class SelfApproval(PayoutError):
    status = 403
    reason = "separation_of_duties"


class TransitionRefused(PayoutError):
    status = 409
    reason = "transition_refused"


class AwaitingFunds(TransitionRefused):
    reason = "awaiting_funds"


class NotApprovable(TransitionRefused):
    reason = "not_approvable"


class ApprovalInProgress(TransitionRefused):
    reason = "approval_in_progress"


class NotRejectable(TransitionRefused):
    reason = "not_rejectable"


class NotCancelable(TransitionRefused):
    reason = "not_cancelable"


class NotVoidable(TransitionRefused):
    reason = "not_voidable"


@dataclass(frozen=True)
class Move:
    to: Stage


@dataclass(frozen=True)
class Resume:
    """Approve again on APPROVED: repeat the Stripe steps (same idempotency keys)."""


@dataclass(frozen=True)
class Ignore:
    why: str  # logged: a stale or repeated event changes nothing


@dataclass(frozen=True)
class Refuse:
    error: type[TransitionRefused]


Outcome = Move | Resume | Ignore | Refuse

S, T = Stage, Trigger
_DUP = Ignore("duplicate")
_STALE = Ignore("stale")

TRANSITIONS: dict[tuple[Stage, Trigger], Outcome] = {
    # Waiting for the ledger: decisions wait too, so the ledger answers every
    # request exactly once and a release always follows a reservation.
    (S.REQUESTED, T.APPROVE): Refuse(AwaitingFunds),
    (S.REQUESTED, T.REJECT): Refuse(AwaitingFunds),
    (S.REQUESTED, T.CANCEL): Refuse(AwaitingFunds),
    (S.REQUESTED, T.FUNDS_RESERVED): Move(S.RESERVED),
    (S.REQUESTED, T.FUNDS_RESERVED_ALL_TO_DEBT): Move(S.PAID),
    (S.REQUESTED, T.FUNDS_REJECTED): Move(S.REJECTED),
    (S.REQUESTED, T.FUNDS_REJECTED_FOR_DEBT): Move(S.BLOCKED),
    (S.REQUESTED, T.STRIPE_SUBMITTED): _STALE,
    (S.REQUESTED, T.STRIPE_PAID): _STALE,
    (S.REQUESTED, T.STRIPE_FAILED): _STALE,
    (S.REQUESTED, T.VOID): Refuse(AwaitingFunds),
    # Funds reserved: the admin decides, or the creator withdraws.
    (S.RESERVED, T.APPROVE): Move(S.APPROVED),
    (S.RESERVED, T.REJECT): Move(S.REJECTED),
    (S.RESERVED, T.CANCEL): Move(S.CANCELED),
    (S.RESERVED, T.FUNDS_RESERVED): _DUP,
    (S.RESERVED, T.FUNDS_RESERVED_ALL_TO_DEBT): _DUP,
    (S.RESERVED, T.FUNDS_REJECTED): _STALE,
    (S.RESERVED, T.FUNDS_REJECTED_FOR_DEBT): _STALE,
    (S.RESERVED, T.STRIPE_SUBMITTED): _STALE,
    (S.RESERVED, T.STRIPE_PAID): _STALE,
    (S.RESERVED, T.STRIPE_FAILED): _STALE,
    (S.RESERVED, T.VOID): Refuse(NotVoidable),
    # Approved: Stripe steps under way, or stopped by a Stripe error. An admin
    # voids one Stripe will never pay out (e.g. no bank account): FAILED, so the
    # ledger releases the reservation as for any failure before payment.
    (S.APPROVED, T.APPROVE): Resume(),
    (S.APPROVED, T.REJECT): Refuse(NotRejectable),
    (S.APPROVED, T.CANCEL): Refuse(NotCancelable),
    (S.APPROVED, T.FUNDS_RESERVED): _DUP,
    (S.APPROVED, T.FUNDS_RESERVED_ALL_TO_DEBT): _DUP,
    (S.APPROVED, T.FUNDS_REJECTED): _STALE,
    (S.APPROVED, T.FUNDS_REJECTED_FOR_DEBT): _STALE,
    (S.APPROVED, T.STRIPE_SUBMITTED): Move(S.PROCESSING),
    (S.APPROVED, T.STRIPE_PAID): _STALE,
    (S.APPROVED, T.STRIPE_FAILED): _STALE,
    (S.APPROVED, T.VOID): Move(S.FAILED),
    # Processing: Stripe decides.
    (S.PROCESSING, T.APPROVE): Refuse(NotApprovable),
    (S.PROCESSING, T.REJECT): Refuse(NotRejectable),
    (S.PROCESSING, T.CANCEL): Refuse(NotCancelable),
    (S.PROCESSING, T.FUNDS_RESERVED): _DUP,
    (S.PROCESSING, T.FUNDS_RESERVED_ALL_TO_DEBT): _DUP,
    (S.PROCESSING, T.FUNDS_REJECTED): _STALE,
    (S.PROCESSING, T.FUNDS_REJECTED_FOR_DEBT): _STALE,
    (S.PROCESSING, T.STRIPE_SUBMITTED): _DUP,
    (S.PROCESSING, T.STRIPE_PAID): Move(S.PAID),
    (S.PROCESSING, T.STRIPE_FAILED): Move(S.FAILED),
    (S.PROCESSING, T.VOID): Refuse(NotVoidable),
    # Paid is not final at Stripe: a payout.failed may follow days later.
    (S.PAID, T.APPROVE): Refuse(NotApprovable),
    (S.PAID, T.REJECT): Refuse(NotRejectable),
    (S.PAID, T.CANCEL): Refuse(NotCancelable),
    (S.PAID, T.FUNDS_RESERVED): _DUP,
    (S.PAID, T.FUNDS_RESERVED_ALL_TO_DEBT): _DUP,
    (S.PAID, T.FUNDS_REJECTED): _STALE,
    (S.PAID, T.FUNDS_REJECTED_FOR_DEBT): _STALE,
    (S.PAID, T.STRIPE_SUBMITTED): _STALE,
    (S.PAID, T.STRIPE_PAID): _DUP,
    (S.PAID, T.STRIPE_FAILED): Move(S.FAILED),
    (S.PAID, T.VOID): Refuse(NotVoidable),
    # Final states.
    **{
        (final, trigger): outcome
        for final, refusal_of_approve in ((S.FAILED, NotApprovable), (S.REJECTED, NotApprovable),
                                          (S.CANCELED, NotApprovable), (S.BLOCKED, NotApprovable))
        for trigger, outcome in (
            (T.APPROVE, Refuse(refusal_of_approve)),
            (T.REJECT, Refuse(NotRejectable)),
            (T.CANCEL, Refuse(NotCancelable)),
            (T.FUNDS_RESERVED, _STALE),
            (T.FUNDS_RESERVED_ALL_TO_DEBT, _STALE),
            (T.FUNDS_REJECTED, _DUP if final in (S.REJECTED, S.BLOCKED) else _STALE),
            (T.FUNDS_REJECTED_FOR_DEBT, _DUP if final in (S.REJECTED, S.BLOCKED) else _STALE),
            (T.STRIPE_SUBMITTED, _STALE),
            # payout.paid after payout.failed is stale; a second failed is a duplicate.
            (T.STRIPE_PAID, _STALE),
            (T.STRIPE_FAILED, _DUP if final is S.FAILED else _STALE),
            (T.VOID, Refuse(NotVoidable)),
        )
    },
}


def decide(stage: Stage, trigger: Trigger) -> Outcome:
    return TRANSITIONS[(stage, trigger)]


def may_resume(stripe_claimed_at: datetime | None, now: datetime) -> bool:
    """A resume is allowed when no Stripe attempt is in flight: the last one
    failed (claim cleared) or its process died long ago."""
    return stripe_claimed_at is None or now - stripe_claimed_at > STALE_STRIPE_CLAIM


def stalled(stripe_claimed_at: datetime | None, now: datetime) -> bool:
    """Claimed for the Stripe steps long ago and never finished: its approver died.
    (No claim means the steps stopped on a Stripe error: an admin approves again or voids.)"""
    return stripe_claimed_at is not None and now - stripe_claimed_at > STALE_STRIPE_CLAIM


class UnrecordedStripePayout(StrEnum):
    """What to do with a Connect payout.* event naming one of our payouts whose
    Stripe payout id we have not stored."""

    WAIT = "wait"  # its approver is between Stripe's answer and its commit: park the event
    ADOPT = "adopt"  # no approver is at work (it died, or stopped on an error): take Stripe's id
    UNEXPECTED = "unexpected"  # the payout is past APPROVED or has another Stripe payout: a human looks


def unrecorded_stripe_payout(
    state: State | str, stored_stripe_payout_id: str | None, stripe_claimed_at: datetime | None, now: datetime
) -> UnrecordedStripePayout:
    if State(state) is not State.APPROVED or stored_stripe_payout_id is not None:
        return UnrecordedStripePayout.UNEXPECTED
    if may_resume(stripe_claimed_at, now):
        return UnrecordedStripePayout.ADOPT
    return UnrecordedStripePayout.WAIT


def funds_rejection_trigger(reason: str) -> Trigger:
    """A refusal for debt blocks the creator's payouts; any other rejects this one."""
    return Trigger.FUNDS_REJECTED_FOR_DEBT if reason == "debt_above_threshold" else Trigger.FUNDS_REJECTED


def funds_reserved_trigger(net_minor: int) -> Trigger:
    return Trigger.FUNDS_RESERVED_ALL_TO_DEBT if net_minor == 0 else Trigger.FUNDS_RESERVED


def check_request(amount_minor: int | None, all_available: bool, minimum_minor: int) -> None:
    """A request names a positive integer amount of at least the minimum, or asks
    for all that is available (the ledger then checks the minimum)."""
    if all_available:
        if amount_minor is not None:
            raise InvalidAmount("give either amount_minor or all, not both")
        return
    if amount_minor is None:
        raise InvalidAmount("amount_minor is required unless all is true")
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor <= 0:
        raise InvalidAmount("amount_minor must be a positive integer number of minor units")
    if amount_minor < minimum_minor:
        raise BelowMinimum(f"the minimum payout is {minimum_minor} minor units")


def check_reason(reason: str | None) -> str:
    if reason is None or not reason.strip():
        raise ReasonRequired("a rejection needs a reason")
    return reason.strip()


def check_separation_of_duties(admin_id: str, creator_id: str, requested_by: str) -> None:
    """The approver is neither the payee nor who asked for the payout."""
    if admin_id in (creator_id, requested_by):
        raise SelfApproval("an admin cannot approve a payout they requested or that pays them")


@dataclass(frozen=True)
class AuditRecord:
    """The fields of one audit row that its hash covers."""

    id: str
    payout_id: str
    actor_id: str
    actor_role: str  # admin, creator, stripe, system
    old_state: str | None
    new_state: str
    reason: str | None
    metadata: dict[str, Any]
    created_at: datetime

    def canonical(self) -> str:
        """Sorted keys, no whitespace, ISO timestamps: the same row always gives the same text."""
        return json.dumps(
            {
                "id": self.id,
                "payout_id": self.payout_id,
                "actor_id": self.actor_id,
                "actor_role": self.actor_role,
                "old_state": self.old_state,
                "new_state": self.new_state,
                "reason": self.reason,
                "metadata": self.metadata,
                "created_at": self.created_at.isoformat(),
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )


def chain_hash(prev_hash: str, record: AuditRecord) -> str:
    return hashlib.sha256((prev_hash + record.canonical()).encode()).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    audit_id: str
    problem: str


class ChainChecker:
    """Walks the chain in `seq` order; `check` answers the first broken link."""

    def __init__(self) -> None:
        self._expected_prev = GENESIS_HASH

    def check(self, seq: int, prev_hash: str, stored_hash: str, record: AuditRecord) -> BrokenLink | None:
        if prev_hash != self._expected_prev:
            return BrokenLink(seq, record.id, "prev_hash does not match the previous row's hash")
        if chain_hash(prev_hash, record) != stored_hash:
            return BrokenLink(seq, record.id, "hash does not match the row's content")
        self._expected_prev = stored_hash
        return None


def broken_link_of_one_payout(rows: Iterable[tuple[int, str, str, AuditRecord]],
                              predecessors: dict[int, str]) -> BrokenLink | None:
    """One payout's rows (seq, prev_hash, hash, record), with the hash of the row
    before each in the whole chain (`predecessors` by seq; none: the genesis):
    each row links to that row and hashes its own content. None if they hold."""
    for seq, prev_hash, stored_hash, record in rows:
        if prev_hash != predecessors.get(seq, GENESIS_HASH):
            return BrokenLink(seq, record.id, "prev_hash does not match the previous row's hash")
        if chain_hash(prev_hash, record) != stored_hash:
            return BrokenLink(seq, record.id, "hash does not match the row's content")
    return None


def first_broken_link(rows: Iterable[tuple[int, str, str, AuditRecord]]) -> BrokenLink | None:
    """Rows as (seq, prev_hash, hash, record) in chain order; None if the chain holds."""
    checker = ChainChecker()
    for row in rows:
        if (broken := checker.check(*row)) is not None:
            return broken
    return None
