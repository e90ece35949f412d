import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.domain.refunds import (
    InvalidRefund,
    PaymentNotRefundable,
    Refunding,
    RefundStatus,
    TakesBackTooMuch,
    Totals,
    check_refund,
    from_stripe,
    gives_up,
    moves_in_order,
    refund_made_for,
    refundable,
    should_transition,
)

S = RefundStatus
ALLOWED = {
    (S.PENDING, S.REQUIRES_ACTION), (S.REQUIRES_ACTION, S.PENDING),
    (S.PENDING, S.SUCCEEDED), (S.PENDING, S.FAILED), (S.PENDING, S.CANCELED),
    (S.REQUIRES_ACTION, S.SUCCEEDED), (S.REQUIRES_ACTION, S.FAILED), (S.REQUIRES_ACTION, S.CANCELED),
    (S.SUCCEEDED, S.FAILED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_every_refund_transition_is_allowed_only_if_stripe_can_make_it(current, target):
    assert should_transition(current, target) == ((current, target) in ALLOWED)


def test_failed_and_canceled_refunds_are_final():
    for final in (S.FAILED, S.CANCELED):
        assert not any(should_transition(final, target) for target in S)


@pytest.mark.parametrize(
    ("stripe", "ours"),
    [("pending", S.PENDING), ("requires_action", S.REQUIRES_ACTION), ("succeeded", S.SUCCEEDED),
     ("failed", S.FAILED), ("canceled", S.CANCELED), ("reversed", None), (None, None), (3, None)],
)
def test_stripe_refund_statuses_map_to_ours_and_unknown_ones_to_none(stripe, ours):
    assert from_stripe(stripe) == ours


def apply(events: list[S]) -> tuple[S, int, int]:
    """A refund record fed Stripe statuses in this order: final status, times
    counted as succeeded, times reversed."""
    status, counted, reversed_ = S.PENDING, 0, 0
    for target in events:
        if should_transition(status, target):
            counted += target == S.SUCCEEDED
            reversed_ += status == S.SUCCEEDED and target == S.FAILED
            status = target
    return status, counted, reversed_


@given(st.lists(st.sampled_from([S.PENDING, S.REQUIRES_ACTION, S.SUCCEEDED]), max_size=6))
def test_a_refund_is_counted_at_most_once_however_often_stripe_says_it_succeeded(events):
    _, counted, _ = apply(events)
    assert counted == (1 if S.SUCCEEDED in events else 0)


@pytest.mark.parametrize("order", list(itertools.permutations([S.PENDING, S.SUCCEEDED, S.SUCCEEDED, S.PENDING])))
def test_duplicated_and_reordered_success_events_end_succeeded_and_counted_once(order):
    assert apply(list(order)) == (S.SUCCEEDED, 1, 0)


@pytest.mark.parametrize("order", list(itertools.permutations([S.PENDING, S.SUCCEEDED, S.FAILED])))
def test_a_refund_that_succeeded_then_failed_nets_to_nothing_in_any_order(order):
    status, counted, reversed_ = apply(list(order))
    assert status == S.FAILED
    assert counted == reversed_  # either counted and reversed, or never counted


def check(**overrides):
    args = {"payment_status": "SUCCEEDED", "payment_currency": "EUR", "refundable_minor": 10_000,
            "amount_minor": 4_000, "currency": None, "reason": None} | overrides
    return check_refund(**args)


def test_a_refund_within_what_is_left_is_accepted():
    assert check() == 4_000
    assert check(amount_minor=10_000, currency="eur", reason="requested_by_customer") == 10_000


def test_no_amount_means_all_that_is_left():
    assert check(amount_minor=None, refundable_minor=6_000) == 6_000


@pytest.mark.parametrize("status", ["PENDING", "FAILED"])
def test_only_a_succeeded_payment_is_refundable(status):
    with pytest.raises(PaymentNotRefundable):
        check(payment_status=status)


def test_a_fully_refunded_payment_has_nothing_left():
    with pytest.raises(PaymentNotRefundable):
        check(amount_minor=None, refundable_minor=0)


@pytest.mark.parametrize("amount", [0, -1, 10_001, 1.5, "100", True])
def test_amounts_that_are_not_positive_integers_within_what_is_left_are_refused(amount):
    with pytest.raises(InvalidRefund):
        check(amount_minor=amount)


def test_another_currency_is_refused():
    with pytest.raises(InvalidRefund):
        check(currency="USD")


def test_an_unknown_reason_is_refused():
    with pytest.raises(InvalidRefund):
        check(reason="changed_my_mind")


@given(price=st.integers(1, 10**9), data=st.data())
def test_refundable_never_lets_refunds_pass_the_price(price, data):
    taken = data.draw(st.integers(0, price))
    open_ = data.draw(st.integers(0, price - taken))
    left = refundable(price_minor=price, taken_back_minor=taken, open_refunds_minor=open_)
    assert left == price - taken - open_
    assert taken + open_ + left == price


def test_the_refund_made_for_ours_is_found_among_the_charges_refunds_by_its_metadata():
    ours = uuid.uuid4()
    dashboard = {"id": "re_dashboard", "metadata": {}}
    another = {"id": "re_other", "metadata": {"refund_id": str(uuid.uuid4())}}
    made = {"id": "re_ours", "metadata": {"refund_id": str(ours), "payment_id": str(uuid.uuid4())}}
    assert refund_made_for([dashboard, another, made], ours) == made
    assert refund_made_for([dashboard, another, {"id": "re_bare"}], ours) is None
    assert refund_made_for([], ours) is None


def test_a_refund_stripe_never_made_is_given_up_on_at_its_deadline_not_before():
    created = datetime(2026, 1, 1, tzinfo=UTC)
    deadline = timedelta(hours=24)
    assert not gives_up(created, created + deadline - timedelta(seconds=1), deadline)
    assert gives_up(created, created + deadline, deadline)


# ---- a batch's reports folded through `move`, each from what the one before left ---------------

PAID = Totals(price_minor=10_000, creator_share_minor=8_500, taken_back_minor=0, refunded_minor=0)


def fold(reports: list[tuple[str, RefundStatus]], amounts: dict[str, int], payment: Totals = PAID):
    """Reports (refund name, Stripe's status) on one payment as one batch: the
    refunds and the payment as the last moves left them, and what was announced."""
    refunds = {name: Refunding(S.PENDING, amount, 0, None) for name, amount in amounts.items()}
    moves = moves_in_order(refunds, {"p": payment}, [(name, "p", target, None) for name, target in reports])
    announced = []
    for (name, _), moved in zip(reports, moves):
        if moved is None:
            continue
        refunds[name], payment = moved.refund, moved.payment
        if moved.announces:
            announced.append((name, moved.announces, moved.refund.creator_clawback_minor, moved.returned_minor))
    return refunds, payment, announced


def test_the_same_success_twice_in_a_batch_is_counted_and_announced_once():
    refunds, payment, announced = fold([("a", S.SUCCEEDED), ("a", S.SUCCEEDED)], {"a": 4_000})

    assert refunds["a"].status == S.SUCCEEDED
    assert (payment.taken_back_minor, payment.refunded_minor) == (4_000, 4_000)
    assert announced == [("a", "created", 3_400, 0)]


def test_a_success_before_its_pending_report_ignores_the_late_pending():
    refunds, payment, announced = fold([("a", S.SUCCEEDED), ("a", S.PENDING)], {"a": 4_000})

    assert refunds["a"].status == S.SUCCEEDED
    assert announced == [("a", "created", 3_400, 0)]


def test_a_failure_after_success_in_one_batch_gives_back_what_it_took():
    refunds, payment, announced = fold([("a", S.SUCCEEDED), ("a", S.FAILED), ("a", S.SUCCEEDED)], {"a": 4_000})

    assert refunds["a"] == Refunding(S.FAILED, 4_000, 3_400, "failed")  # the clawback kept as history
    assert (payment.taken_back_minor, payment.refunded_minor) == (0, 0)
    assert announced == [("a", "created", 3_400, 0), ("a", "failed", 3_400, 3_400)]


def test_two_refunds_of_one_payment_in_a_batch_take_back_the_whole_share_exactly():
    _, payment, announced = fold([("a", S.SUCCEEDED), ("b", S.SUCCEEDED)], {"a": 3_333, "b": 6_667})

    assert payment.taken_back_minor == 10_000
    assert [clawed for _, _, clawed, _ in announced] == [2_833, 5_667]  # 8_500 in all


def test_a_refund_past_the_price_is_refused_after_the_ones_before_it():
    with pytest.raises(TakesBackTooMuch, match="would take back 11001 of the price 10000"):
        fold([("a", S.SUCCEEDED), ("b", S.SUCCEEDED)], {"a": 1_000, "b": 10_001})


def test_a_canceled_refund_that_never_succeeded_returns_nothing():
    refunds, payment, announced = fold([("a", S.REQUIRES_ACTION), ("a", S.CANCELED)], {"a": 4_000})

    assert refunds["a"] == Refunding(S.CANCELED, 4_000, 0, "canceled")
    assert payment == PAID
    assert announced == [("a", "failed", 0, 0)]
