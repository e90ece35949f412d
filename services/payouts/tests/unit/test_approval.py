"""An admin's decisions and the approver's claim on the Stripe steps."""

from datetime import UTC, datetime, timedelta

import pytest

from payouts.domain import approval, errors
from payouts.domain.transitions import State


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_rejection_needs_a_reason(reason: str | None) -> None:
    with pytest.raises(errors.ReasonRequired):
        approval.check_reason(reason)
    assert approval.check_reason("  fraud suspected ") == "fraud suspected"


def test_an_admin_cannot_approve_their_own_payout_or_one_they_requested() -> None:
    with pytest.raises(errors.SelfApproval):
        approval.check_separation_of_duties("admin_1", "admin_1", "admin_1")
    with pytest.raises(errors.SelfApproval):
        approval.check_separation_of_duties("admin_1", "creator_9", "admin_1")
    approval.check_separation_of_duties("admin_2", "creator_9", "creator_9")


def test_a_resume_waits_for_a_claim_in_flight_but_not_for_a_dead_one() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert approval.may_resume(None, now)
    assert not approval.may_resume(now - timedelta(seconds=5), now)
    assert approval.may_resume(now - approval.STALE_STRIPE_CLAIM - timedelta(seconds=1), now)


def test_only_a_claim_gone_stale_is_a_stalled_approval() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert not approval.stalled(None, now)  # stopped on a Stripe error: an admin decides
    assert not approval.stalled(now - timedelta(seconds=5), now)
    assert approval.stalled(now - approval.STALE_STRIPE_CLAIM - timedelta(seconds=1), now)


def test_a_stripe_payout_we_have_not_recorded_waits_for_a_live_approver_and_is_adopted_from_a_dead_one() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    fresh, stale = now - timedelta(seconds=5), now - approval.STALE_STRIPE_CLAIM - timedelta(seconds=1)
    unrecorded = approval.unrecorded_stripe_payout
    assert unrecorded(State.APPROVED, None, fresh, now) is approval.UnrecordedStripePayout.WAIT
    assert unrecorded(State.APPROVED, None, stale, now) is approval.UnrecordedStripePayout.ADOPT
    assert unrecorded(State.APPROVED, None, None, now) is approval.UnrecordedStripePayout.ADOPT  # stopped on an error
    assert unrecorded(State.APPROVED, "po_other", None, now) is approval.UnrecordedStripePayout.UNEXPECTED
    for state in (State.REQUESTED, State.PROCESSING, State.PAID, State.FAILED, State.REJECTED, State.CANCELED):
        assert unrecorded(state, None, stale, now) is approval.UnrecordedStripePayout.UNEXPECTED
