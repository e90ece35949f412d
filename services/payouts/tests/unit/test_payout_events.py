"""A batch of events about payouts decided in delivery order: each event sees the
payout as the events before it left it, as if applied one at a time."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from contracts.events.payouts import FundsRejectedData, FundsReservedData
from payouts.domain import payout_events
from payouts.domain.accounts import updates_kept
from payouts.domain.errors import UnappliableEvent
from payouts.domain.payout_events import PayoutRow, Payouts, StripePayoutEvent, StripePayoutInFlight

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def payout(state: str = "REQUESTED", **columns: object) -> PayoutRow:
    row = PayoutRow(
        id=uuid.uuid4(), creator_id="creator_1", currency="EUR", state=state, funds_reserved=state != "REQUESTED",
        requested_minor=20_000, gross_minor=None, debt_deducted_minor=None, net_minor=None, reason=None,
        reason_detail=None, stripe_account_id="acct_1", stripe_transfer_id=None, stripe_payout_id=None,
        stripe_reversal_id=None, stripe_claimed_at=None, stripe_error_code=None, stripe_error_message=None,
        failure_code=None, failure_message=None, paid_at=None,
    )
    return replace(row, **columns)  # type: ignore[arg-type]


def processing(**columns: object) -> PayoutRow:
    return payout("PROCESSING", gross_minor=20_000, debt_deducted_minor=0, net_minor=20_000,
                  stripe_transfer_id="tr_1", stripe_payout_id=f"po_{uuid.uuid4().hex[:8]}", **columns)


def reserved(row: PayoutRow, debt: int = 0) -> FundsReservedData:
    return FundsReservedData(payout_id=str(row.id), creator_id=row.creator_id, currency="EUR",
                             amount_minor=20_000, debt_deducted_minor=debt, net_minor=20_000 - debt)


def rejected(row: PayoutRow, reason: str = "insufficient_available") -> FundsRejectedData:
    return FundsRejectedData(payout_id=str(row.id), creator_id=row.creator_id, currency="EUR", reason=reason,
                             detail="refused", available_minor=0, debt_minor=0)


def stripe(row: PayoutRow, *, named: bool = False, stripe_payout_id: str | None = None,
           account: str = "acct_1") -> StripePayoutEvent:
    metadata = {"payout_id": str(row.id)} if named else {}
    return StripePayoutEvent({"id": stripe_payout_id or row.stripe_payout_id, "amount": 20_000,
                              "arrival_date": int(NOW.timestamp()), "failure_code": "account_closed",
                              "metadata": metadata}, account, f"evt_{uuid.uuid4().hex[:8]}")


def moves(payouts: Payouts) -> list[tuple[int, str, str, str | None]]:
    return [(t.cause, t.old_state, t.payout.state, t.reason) for t in payouts.transitions]


def test_a_payout_reserved_twice_is_reserved_once_and_neither_is_audited() -> None:
    row = payout()
    payouts = Payouts([row])
    payout_events.funds_reserved(payouts, [reserved(row, debt=1_500), reserved(row, debt=3_000)], NOW)

    stored = payouts.changed[row.id]
    assert (stored.state, stored.funds_reserved, stored.debt_deducted_minor, stored.net_minor) == (
        "REQUESTED", True, 1_500, 18_500)
    assert payouts.transitions == []


def test_a_payout_wholly_taken_by_debt_is_paid_and_a_later_rejection_is_stale() -> None:
    row = payout()
    payouts = Payouts([row])
    payout_events.funds_reserved(payouts, [reserved(row, debt=20_000)], NOW)
    payout_events.funds_rejected(payouts, [rejected(row)])

    assert moves(payouts) == [(0, "REQUESTED", "PAID", "settled_by_debt")]
    assert payouts.changed[row.id].paid_at == NOW and payouts.changed[row.id].reason is None


def test_a_refusal_for_debt_blocks_and_its_repetition_changes_nothing() -> None:
    row = payout()
    payouts = Payouts([row])
    payout_events.funds_rejected(payouts, [rejected(row, "debt_above_threshold"), rejected(row)])

    assert moves(payouts) == [(0, "REQUESTED", "BLOCKED", "debt_above_threshold")]
    assert payouts.changed[row.id].reason == "debt_above_threshold"


@pytest.mark.parametrize("name", [str(uuid.uuid4()), "not-a-uuid"])
def test_an_answer_for_a_payout_we_never_stored_is_unappliable(name: str) -> None:
    answer = reserved(payout()).model_copy(update={"payout_id": name})
    with pytest.raises(UnappliableEvent, match=f"no payout {name}"):
        payout_events.funds_reserved(Payouts([]), [answer], NOW)


def test_payout_ids_are_the_names_that_are_ids_once_each_in_order() -> None:
    a, b = sorted([uuid.uuid4(), uuid.uuid4()])
    assert payout_events.payout_ids([str(b), "nonsense", None, str(a), str(b)]) == [a, b]


def test_paid_then_failed_in_one_batch_moves_twice_and_the_failure_knows_it_was_paid() -> None:
    row = processing()
    payouts = Payouts([row])
    payout_events.payouts_paid(payouts, [stripe(row), stripe(row)], NOW)
    failed = payout_events.payouts_failed(payouts, [stripe(row), stripe(row)], NOW)

    assert moves(payouts) == [(0, "PROCESSING", "PAID", None), (0, "PAID", "FAILED", "account_closed")]
    assert [f.id for f in failed] == [row.id]  # one reversal, for the first failure
    assert payouts.transitions[1].metadata["was_paid"] is True
    payouts.reversed(row.id, "tr_1", "trr_1")
    assert payouts.transitions[1].metadata["stripe_reversal_id"] == "trr_1"
    assert (payouts.changed[row.id].stripe_reversal_id, payouts.transitions[1].payout.stripe_reversal_id) == (
        "trr_1", "trr_1")


def test_a_payout_paid_after_it_failed_stays_failed() -> None:
    row = processing()
    payouts = Payouts([row])
    payout_events.payouts_failed(payouts, [stripe(row)], NOW)
    payout_events.payouts_paid(payouts, [stripe(row)], NOW)

    assert moves(payouts) == [(0, "PROCESSING", "FAILED", "account_closed")]
    assert payouts.transitions[0].metadata["was_paid"] is False


def test_a_stripe_payout_that_is_not_ours_changes_nothing() -> None:
    payouts = Payouts([processing()])
    payout_events.payouts_paid(payouts, [stripe(processing())], NOW)
    assert payouts.changed == {} and payouts.transitions == []


def test_a_stripe_payout_named_while_its_approver_is_at_work_waits_naming_its_event() -> None:
    done, in_flight = processing(), payout("APPROVED", stripe_claimed_at=NOW - timedelta(seconds=5), net_minor=20_000)
    payouts = Payouts([done, in_flight])
    with pytest.raises(StripePayoutInFlight) as waiting:
        payout_events.payouts_paid(payouts, [stripe(done), stripe(in_flight, named=True, stripe_payout_id="po_new")],
                                   NOW)
    assert (waiting.value.cause, waiting.value.payout_id) == (1, in_flight.id)


def test_a_dead_approvers_stripe_payout_is_adopted_then_applied_and_found_by_its_id_after() -> None:
    abandoned = payout("APPROVED", stripe_claimed_at=NOW - timedelta(hours=1), net_minor=20_000,
                       stripe_error_code="api_error")
    payouts = Payouts([abandoned])
    first = stripe(abandoned, named=True, stripe_payout_id="po_made")
    payout_events.payouts_paid(payouts, [first, stripe(abandoned, stripe_payout_id="po_made")], NOW)

    assert moves(payouts) == [(0, "APPROVED", "PROCESSING", "recovered_from_stripe_event"),
                              (0, "PROCESSING", "PAID", None)]
    stored = payouts.changed[abandoned.id]
    assert (stored.stripe_payout_id, stored.stripe_claimed_at, stored.stripe_error_code) == ("po_made", None, None)


@pytest.mark.parametrize("contradiction", [{"account": "acct_other"}, {"stripe_payout_id": "po_x", "amount": 1}])
def test_a_stripe_payout_that_contradicts_the_payout_it_names_is_unappliable(contradiction: dict) -> None:
    abandoned = payout("APPROVED", stripe_claimed_at=None, net_minor=20_000)
    event = stripe(abandoned, named=True, stripe_payout_id="po_x", account=contradiction.get("account", "acct_1"))
    if "amount" in contradiction:
        event = replace(event, stripe_payout={**event.stripe_payout, "amount": contradiction["amount"]})
    with pytest.raises(UnappliableEvent, match="does not match"):
        payout_events.payouts_paid(Payouts([abandoned]), [event], NOW)


def test_a_stripe_payout_naming_a_payout_past_approval_is_unappliable() -> None:
    row = processing()
    with pytest.raises(UnappliableEvent, match="which is PROCESSING"):
        payout_events.payouts_paid(Payouts([row]), [stripe(row, named=True, stripe_payout_id="po_other")], NOW)


def test_account_updates_keep_the_newest_in_delivery_order_and_never_an_older_one() -> None:
    stored = {"acct_a": 100, "acct_b": None, "acct_c": 500}
    updates = [("acct_a", 300), ("acct_a", 200), ("acct_b", 10), ("acct_b", 10), ("acct_c", 400),
               ("acct_elsewhere", 900), (None, 900)]
    assert updates_kept(stored, updates) == {"acct_a": 0, "acct_b": 3}
