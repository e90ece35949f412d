"""The payout workflow's pure rules: every stage × trigger, amounts, duties, the audit chain."""

from datetime import UTC, datetime, timedelta

import pytest

from payouts import domain
from payouts.domain import (
    AuditRecord,
    Ignore,
    Move,
    Refuse,
    Resume,
    Stage,
    State,
    Trigger,
)

S, T = Stage, Trigger

# The whole table, written out independently of the module: (stage, trigger) -> expected.
# "ignore" = stale or duplicate, changes nothing; an exception class = refused.
EXPECTED: dict[Stage, dict[Trigger, object]] = {
    S.REQUESTED: {
        T.APPROVE: domain.AwaitingFunds, T.REJECT: domain.AwaitingFunds, T.CANCEL: domain.AwaitingFunds,
        T.FUNDS_RESERVED: S.RESERVED, T.FUNDS_RESERVED_ALL_TO_DEBT: S.PAID,
        T.FUNDS_REJECTED: S.REJECTED, T.FUNDS_REJECTED_FOR_DEBT: S.BLOCKED,
        T.STRIPE_SUBMITTED: "ignore", T.STRIPE_PAID: "ignore", T.STRIPE_FAILED: "ignore",
        T.VOID: domain.AwaitingFunds,
    },
    S.RESERVED: {
        T.APPROVE: S.APPROVED, T.REJECT: S.REJECTED, T.CANCEL: S.CANCELED,
        T.FUNDS_RESERVED: "ignore", T.FUNDS_RESERVED_ALL_TO_DEBT: "ignore",
        T.FUNDS_REJECTED: "ignore", T.FUNDS_REJECTED_FOR_DEBT: "ignore",
        T.STRIPE_SUBMITTED: "ignore", T.STRIPE_PAID: "ignore", T.STRIPE_FAILED: "ignore",
        T.VOID: domain.NotVoidable,  # not sent to Stripe yet: rejected or canceled instead
    },
    S.APPROVED: {
        T.APPROVE: "resume", T.REJECT: domain.NotRejectable, T.CANCEL: domain.NotCancelable,
        T.FUNDS_RESERVED: "ignore", T.FUNDS_RESERVED_ALL_TO_DEBT: "ignore",
        T.FUNDS_REJECTED: "ignore", T.FUNDS_REJECTED_FOR_DEBT: "ignore",
        T.STRIPE_SUBMITTED: S.PROCESSING, T.STRIPE_PAID: "ignore", T.STRIPE_FAILED: "ignore",
        T.VOID: S.FAILED,  # the way out of a payout Stripe will not pay out
    },
    S.PROCESSING: {
        T.APPROVE: domain.NotApprovable, T.REJECT: domain.NotRejectable, T.CANCEL: domain.NotCancelable,
        T.FUNDS_RESERVED: "ignore", T.FUNDS_RESERVED_ALL_TO_DEBT: "ignore",
        T.FUNDS_REJECTED: "ignore", T.FUNDS_REJECTED_FOR_DEBT: "ignore",
        T.STRIPE_SUBMITTED: "ignore", T.STRIPE_PAID: S.PAID, T.STRIPE_FAILED: S.FAILED,
        T.VOID: domain.NotVoidable,
    },
    S.PAID: {
        T.APPROVE: domain.NotApprovable, T.REJECT: domain.NotRejectable, T.CANCEL: domain.NotCancelable,
        T.FUNDS_RESERVED: "ignore", T.FUNDS_RESERVED_ALL_TO_DEBT: "ignore",
        T.FUNDS_REJECTED: "ignore", T.FUNDS_REJECTED_FOR_DEBT: "ignore",
        T.STRIPE_SUBMITTED: "ignore", T.STRIPE_PAID: "ignore", T.STRIPE_FAILED: S.FAILED,
        T.VOID: domain.NotVoidable,
    },
    **{
        final: {
            T.APPROVE: domain.NotApprovable, T.REJECT: domain.NotRejectable, T.CANCEL: domain.NotCancelable,
            T.VOID: domain.NotVoidable,
            **{t: "ignore" for t in (T.FUNDS_RESERVED, T.FUNDS_RESERVED_ALL_TO_DEBT, T.FUNDS_REJECTED,
                                     T.FUNDS_REJECTED_FOR_DEBT, T.STRIPE_SUBMITTED, T.STRIPE_PAID, T.STRIPE_FAILED)},
        }
        for final in (S.FAILED, S.REJECTED, S.CANCELED, S.BLOCKED)
    },
}

CASES = [(stage, trigger) for stage in Stage for trigger in Trigger]


def test_the_table_covers_every_stage_and_trigger_and_nothing_else() -> None:
    assert set(domain.TRANSITIONS) == set(CASES)
    assert {(s, t) for s, row in EXPECTED.items() for t in row} == set(CASES)


@pytest.mark.parametrize(("stage", "trigger"), CASES, ids=[f"{s}-{t}" for s, t in CASES])
def test_transition(stage: Stage, trigger: Trigger) -> None:
    expected = EXPECTED[stage][trigger]
    outcome = domain.decide(stage, trigger)
    if expected == "ignore":
        assert isinstance(outcome, Ignore)
        assert outcome.why in ("stale", "duplicate")
    elif expected == "resume":
        assert outcome == Resume()
    elif isinstance(expected, Stage):
        assert outcome == Move(expected)
    else:
        assert outcome == Refuse(expected)
        assert issubclass(expected, domain.TransitionRefused)


def test_repeated_and_out_of_order_stripe_events_are_ignored_with_the_right_reason() -> None:
    assert domain.decide(S.PAID, T.STRIPE_PAID) == Ignore("duplicate")
    assert domain.decide(S.FAILED, T.STRIPE_FAILED) == Ignore("duplicate")
    assert domain.decide(S.FAILED, T.STRIPE_PAID) == Ignore("stale")


def test_a_stage_is_stored_as_its_state_with_the_reservation_flag() -> None:
    assert Stage.RESERVED.state is State.REQUESTED
    assert domain.stage_of(State.REQUESTED, False) is Stage.REQUESTED
    assert domain.stage_of("REQUESTED", True) is Stage.RESERVED
    for state in State:
        if state is not State.REQUESTED:
            # the flag stays true after the reservation; only REQUESTED reads it
            assert domain.stage_of(state, True).state is state
            assert domain.stage_of(state, False).state is state


def test_funds_answers_pick_their_trigger() -> None:
    assert domain.funds_reserved_trigger(0) is T.FUNDS_RESERVED_ALL_TO_DEBT
    assert domain.funds_reserved_trigger(1) is T.FUNDS_RESERVED
    assert domain.funds_rejection_trigger("debt_above_threshold") is T.FUNDS_REJECTED_FOR_DEBT
    for reason in ("insufficient_available", "currency_mismatch", "below_minimum"):
        assert domain.funds_rejection_trigger(reason) is T.FUNDS_REJECTED


def test_a_resume_waits_for_a_claim_in_flight_but_not_for_a_dead_one() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert domain.may_resume(None, now)
    assert not domain.may_resume(now - timedelta(seconds=5), now)
    assert domain.may_resume(now - domain.STALE_STRIPE_CLAIM - timedelta(seconds=1), now)


def test_only_a_claim_gone_stale_is_a_stalled_approval() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert not domain.stalled(None, now)  # stopped on a Stripe error: an admin decides
    assert not domain.stalled(now - timedelta(seconds=5), now)
    assert domain.stalled(now - domain.STALE_STRIPE_CLAIM - timedelta(seconds=1), now)


def test_a_stripe_payout_we_have_not_recorded_waits_for_a_live_approver_and_is_adopted_from_a_dead_one() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    fresh, stale = now - timedelta(seconds=5), now - domain.STALE_STRIPE_CLAIM - timedelta(seconds=1)
    unrecorded = domain.unrecorded_stripe_payout
    assert unrecorded(State.APPROVED, None, fresh, now) is domain.UnrecordedStripePayout.WAIT
    assert unrecorded(State.APPROVED, None, stale, now) is domain.UnrecordedStripePayout.ADOPT
    assert unrecorded(State.APPROVED, None, None, now) is domain.UnrecordedStripePayout.ADOPT  # stopped on an error
    assert unrecorded(State.APPROVED, "po_other", None, now) is domain.UnrecordedStripePayout.UNEXPECTED
    for state in (State.REQUESTED, State.PROCESSING, State.PAID, State.FAILED, State.REJECTED, State.CANCELED):
        assert unrecorded(state, None, stale, now) is domain.UnrecordedStripePayout.UNEXPECTED


@pytest.mark.parametrize("amount", [0, -1, -1000, 1.5, "1000", True])
def test_an_amount_must_be_a_positive_integer(amount: object) -> None:
    with pytest.raises(domain.InvalidAmount):
        domain.check_request(amount, False, 1000)  # type: ignore[arg-type]


def test_an_amount_below_the_minimum_is_refused_but_the_minimum_is_accepted() -> None:
    with pytest.raises(domain.BelowMinimum):
        domain.check_request(999, False, 1000)
    domain.check_request(1000, False, 1000)


def test_all_available_takes_no_amount_and_an_amount_is_needed_otherwise() -> None:
    domain.check_request(None, True, 1000)
    with pytest.raises(domain.InvalidAmount):
        domain.check_request(5000, True, 1000)
    with pytest.raises(domain.InvalidAmount):
        domain.check_request(None, False, 1000)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_rejection_needs_a_reason(reason: str | None) -> None:
    with pytest.raises(domain.ReasonRequired):
        domain.check_reason(reason)
    assert domain.check_reason("  fraud suspected ") == "fraud suspected"


def test_an_admin_cannot_approve_their_own_payout_or_one_they_requested() -> None:
    with pytest.raises(domain.SelfApproval):
        domain.check_separation_of_duties("admin_1", "admin_1", "admin_1")
    with pytest.raises(domain.SelfApproval):
        domain.check_separation_of_duties("admin_1", "creator_9", "admin_1")
    domain.check_separation_of_duties("admin_2", "creator_9", "creator_9")


def _record(n: int, **changes: object) -> AuditRecord:
    fields = dict(
        id=f"00000000-0000-0000-0000-{n:012d}", payout_id="p", actor_id="a", actor_role="admin",
        old_state="REQUESTED", new_state="APPROVED", reason=None, metadata={"net_minor": 100, "currency": "EUR"},
        created_at=datetime(2026, 1, 1, 12, 0, n, 123456, tzinfo=UTC),
    )
    return AuditRecord(**{**fields, **changes})  # type: ignore[arg-type]


def _chain(records: list[AuditRecord]) -> list[tuple[int, str, str, AuditRecord]]:
    rows, prev = [], domain.GENESIS_HASH
    for seq, record in enumerate(records, 1):
        digest = domain.chain_hash(prev, record)
        rows.append((seq, prev, digest, record))
        prev = digest
    return rows


def test_the_canonical_row_does_not_depend_on_key_order() -> None:
    a = _record(1, metadata={"a": 1, "b": 2})
    b = _record(1, metadata={"b": 2, "a": 1})
    assert a.canonical() == b.canonical()
    assert domain.chain_hash("x", a) != domain.chain_hash("y", a)


def test_an_intact_chain_verifies() -> None:
    assert domain.first_broken_link(_chain([_record(n) for n in range(1, 6)])) is None
    assert domain.first_broken_link([]) is None


def test_a_changed_row_is_the_first_broken_link() -> None:
    rows = _chain([_record(n) for n in range(1, 6)])
    seq, prev, digest, record = rows[2]
    rows[2] = (seq, prev, digest, _record(3, reason="tampered"))
    broken = domain.first_broken_link(rows)
    assert broken is not None and broken.seq == 3 and "content" in broken.problem


def test_a_deleted_row_breaks_the_link_after_it() -> None:
    rows = _chain([_record(n) for n in range(1, 6)])
    del rows[1]
    broken = domain.first_broken_link(rows)
    assert broken is not None and broken.seq == 3 and "prev_hash" in broken.problem


def _one_payouts_rows(rows: list[tuple[int, str, str, AuditRecord]], seqs: set[int]):
    """Its rows among the whole chain's, and the hash before each of them in that chain."""
    hashes = {seq: digest for seq, _, digest, _ in rows}
    mine = [row for row in rows if row[0] in seqs]
    return mine, {seq: hashes[seq - 1] for seq in seqs if seq - 1 in hashes}


def test_one_payouts_rows_verify_against_the_rows_between_them() -> None:
    rows = _chain([_record(n) for n in range(1, 7)])
    assert domain.broken_link_of_one_payout(*_one_payouts_rows(rows, {1, 3, 6})) is None


def test_one_payouts_changed_or_unlinked_row_is_found() -> None:
    rows = _chain([_record(n) for n in range(1, 7)])
    seq, prev, digest, _ = rows[2]
    rows[2] = (seq, prev, digest, _record(3, reason="tampered"))
    broken = domain.broken_link_of_one_payout(*_one_payouts_rows(rows, {1, 3, 6}))
    assert broken is not None and broken.seq == 3 and "content" in broken.problem

    rows = _chain([_record(n) for n in range(1, 7)])
    mine, predecessors = _one_payouts_rows(rows, {2, 5})
    predecessors[5] = "0" * 64  # the row before 5 was replaced: 5 no longer links to it
    broken = domain.broken_link_of_one_payout(mine, predecessors)
    assert broken is not None and broken.seq == 5 and "prev_hash" in broken.problem
