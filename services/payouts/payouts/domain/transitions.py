"""The payout state machine. No I/O.

A payout's stored state is one of `State`. For deciding, REQUESTED is split in
two stages: before the ledger's answer (`REQUESTED`) and after it reserved the
funds (`RESERVED`, stored as REQUESTED with `funds_reserved`). Every stage ×
trigger pair is in `TRANSITIONS`: a move, an ignore (a stale or repeated event,
logged) or a refusal (a command that is not allowed now, an error to the caller).
"""

import logging
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from payouts.domain.errors import (
    AwaitingFunds,
    NotApprovable,
    NotCancelable,
    NotRejectable,
    NotVoidable,
    TransitionRefused,
)

log = logging.getLogger(__name__)


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


class StoredPayout(Protocol):
    """What the table reads of a payout (a stored one, or a batch's row)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def state(self) -> str: ...
    @property
    def funds_reserved(self) -> bool: ...


def decide_for(payout: StoredPayout, trigger: Trigger) -> Outcome:
    """The table's answer for this payout; a refusal is raised, an ignore logged."""
    outcome = decide(stage_of(payout.state, payout.funds_reserved), trigger)
    if isinstance(outcome, Refuse):
        raise outcome.error(f"payout {payout.id} is {payout.state}: cannot {trigger.value}")
    if isinstance(outcome, Ignore):
        log.info("ignored %s on payout %s in %s (%s)", trigger.value, payout.id, payout.state, outcome.why)
    return outcome


def funds_rejection_trigger(reason: str) -> Trigger:
    """A refusal for debt blocks the creator's payouts; any other rejects this one."""
    return Trigger.FUNDS_REJECTED_FOR_DEBT if reason == "debt_above_threshold" else Trigger.FUNDS_REJECTED


def funds_reserved_trigger(net_minor: int) -> Trigger:
    return Trigger.FUNDS_RESERVED_ALL_TO_DEBT if net_minor == 0 else Trigger.FUNDS_RESERVED
