"""An admin's decisions and the approver's claim on the Stripe steps.

An approver claims a payout (`stripe_claimed_at`) while it makes the Stripe
transfer and payout; the claim is cleared when Stripe refuses. A claim older
than `STALE_STRIPE_CLAIM` belongs to an approver that died mid-way.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from payouts.domain.errors import ReasonRequired, SelfApproval
from payouts.domain.transitions import State

# An APPROVED payout whose Stripe steps were claimed longer ago than this and
# never finished (the process died mid-way) may be resumed by a new approve.
STALE_STRIPE_CLAIM = timedelta(minutes=10)


def check_separation_of_duties(admin_id: str, creator_id: str, requested_by: str) -> None:
    """The approver is neither the payee nor who asked for the payout."""
    if admin_id in (creator_id, requested_by):
        raise SelfApproval("an admin cannot approve a payout they requested or that pays them")


def check_reason(reason: str | None) -> str:
    if reason is None or not reason.strip():
        raise ReasonRequired("a rejection needs a reason")
    return reason.strip()


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
