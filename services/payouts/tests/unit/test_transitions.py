"""The payout state machine: every stage × trigger, and how the ledger's answers pick a trigger."""

import pytest

from payouts.domain import errors, transitions
from payouts.domain.transitions import Ignore, Move, Refuse, Resume, Stage, State, Trigger

S, T = Stage, Trigger

# The whole table, written out independently of the module: (stage, trigger) -> expected.
# "ignore" = stale or duplicate, changes nothing; an exception class = refused.
EXPECTED: dict[Stage, dict[Trigger, object]] = {
    S.REQUESTED: {
        T.APPROVE: errors.AwaitingFunds, T.REJECT: errors.AwaitingFunds, T.CANCEL: errors.AwaitingFunds,
        T.FUNDS_RESERVED: S.RESERVED, T.FUNDS_RESERVED_ALL_TO_DEBT: S.PAID,
        T.FUNDS_REJECTED: S.REJECTED, T.FUNDS_REJECTED_FOR_DEBT: S.BLOCKED,
        T.STRIPE_SUBMITTED: "ignore", T.STRIPE_PAID: "ignore", T.STRIPE_FAILED: "ignore",
        T.VOID: errors.AwaitingFunds,
    },
    S.RESERVED: {
        T.APPROVE: S.APPROVED, T.REJECT: S.REJECTED, T.CANCEL: S.CANCELED,
        T.FUNDS_RESERVED: "ignore", T.FUNDS_RESERVED_ALL_TO_DEBT: "ignore",
        T.FUNDS_REJECTED: "ignore", T.FUNDS_REJECTED_FOR_DEBT: "ignore",
        T.STRIPE_SUBMITTED: "ignore", T.STRIPE_PAID: "ignore", T.STRIPE_FAILED: "ignore",
        T.VOID: errors.NotVoidable,  # not sent to Stripe yet: rejected or canceled instead
    },
    S.APPROVED: {
        T.APPROVE: "resume", T.REJECT: errors.NotRejectable, T.CANCEL: errors.NotCancelable,
        T.FUNDS_RESERVED: "ignore", T.FUNDS_RESERVED_ALL_TO_DEBT: "ignore",
        T.FUNDS_REJECTED: "ignore", T.FUNDS_REJECTED_FOR_DEBT: "ignore",
        T.STRIPE_SUBMITTED: S.PROCESSING, T.STRIPE_PAID: "ignore", T.STRIPE_FAILED: "ignore",
        T.VOID: S.FAILED,  # the way out of a payout Stripe will not pay out
    },
    S.PROCESSING: {
        T.APPROVE: errors.NotApprovable, T.REJECT: errors.NotRejectable, T.CANCEL: errors.NotCancelable,
        T.FUNDS_RESERVED: "ignore", T.FUNDS_RESERVED_ALL_TO_DEBT: "ignore",
        T.FUNDS_REJECTED: "ignore", T.FUNDS_REJECTED_FOR_DEBT: "ignore",
        T.STRIPE_SUBMITTED: "ignore", T.STRIPE_PAID: S.PAID, T.STRIPE_FAILED: S.FAILED,
        T.VOID: errors.NotVoidable,
    },
    S.PAID: {
        T.APPROVE: errors.NotApprovable, T.REJECT: errors.NotRejectable, T.CANCEL: errors.NotCancelable,
        T.FUNDS_RESERVED: "ignore", T.FUNDS_RESERVED_ALL_TO_DEBT: "ignore",
        T.FUNDS_REJECTED: "ignore", T.FUNDS_REJECTED_FOR_DEBT: "ignore",
        T.STRIPE_SUBMITTED: "ignore", T.STRIPE_PAID: "ignore", T.STRIPE_FAILED: S.FAILED,
        T.VOID: errors.NotVoidable,
    },
    **{
        final: {
            T.APPROVE: errors.NotApprovable, T.REJECT: errors.NotRejectable, T.CANCEL: errors.NotCancelable,
            T.VOID: errors.NotVoidable,
            **{t: "ignore" for t in (T.FUNDS_RESERVED, T.FUNDS_RESERVED_ALL_TO_DEBT, T.FUNDS_REJECTED,
                                     T.FUNDS_REJECTED_FOR_DEBT, T.STRIPE_SUBMITTED, T.STRIPE_PAID, T.STRIPE_FAILED)},
        }
        for final in (S.FAILED, S.REJECTED, S.CANCELED, S.BLOCKED)
    },
}

CASES = [(stage, trigger) for stage in Stage for trigger in Trigger]


def test_the_table_covers_every_stage_and_trigger_and_nothing_else() -> None:
    assert set(transitions.TRANSITIONS) == set(CASES)
    assert {(s, t) for s, row in EXPECTED.items() for t in row} == set(CASES)


@pytest.mark.parametrize(("stage", "trigger"), CASES, ids=[f"{s}-{t}" for s, t in CASES])
def test_transition(stage: Stage, trigger: Trigger) -> None:
    expected = EXPECTED[stage][trigger]
    outcome = transitions.decide(stage, trigger)
    if expected == "ignore":
        assert isinstance(outcome, Ignore)
        assert outcome.why in ("stale", "duplicate")
    elif expected == "resume":
        assert outcome == Resume()
    elif isinstance(expected, Stage):
        assert outcome == Move(expected)
    else:
        assert outcome == Refuse(expected)
        assert issubclass(expected, errors.TransitionRefused)


def test_repeated_and_out_of_order_stripe_events_are_ignored_with_the_right_reason() -> None:
    assert transitions.decide(S.PAID, T.STRIPE_PAID) == Ignore("duplicate")
    assert transitions.decide(S.FAILED, T.STRIPE_FAILED) == Ignore("duplicate")
    assert transitions.decide(S.FAILED, T.STRIPE_PAID) == Ignore("stale")


def test_a_stage_is_stored_as_its_state_with_the_reservation_flag() -> None:
    assert Stage.RESERVED.state is State.REQUESTED
    assert transitions.stage_of(State.REQUESTED, False) is Stage.REQUESTED
    assert transitions.stage_of("REQUESTED", True) is Stage.RESERVED
    for state in State:
        if state is not State.REQUESTED:
            # the flag stays true after the reservation; only REQUESTED reads it
            assert transitions.stage_of(state, True).state is state
            assert transitions.stage_of(state, False).state is state


def test_funds_answers_pick_their_trigger() -> None:
    assert transitions.funds_reserved_trigger(0) is T.FUNDS_RESERVED_ALL_TO_DEBT
    assert transitions.funds_reserved_trigger(1) is T.FUNDS_RESERVED
    assert transitions.funds_rejection_trigger("debt_above_threshold") is T.FUNDS_REJECTED_FOR_DEBT
    for reason in ("insufficient_available", "currency_mismatch", "below_minimum"):
        assert transitions.funds_rejection_trigger(reason) is T.FUNDS_REJECTED
