from dataclasses import replace
from datetime import UTC, datetime
from itertools import permutations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.domain.disputes import (
    BalanceTransaction,
    Dispute,
    MalformedDispute,
    PaymentShare,
    Snapshot,
    Step,
    UnbookableBalanceTransaction,
    apply,
    apply_in_order,
    snapshot_from_stripe,
)

DUE = datetime(2026, 9, 20, 23, 59, 59, tzinfo=UTC)
WITHDRAWAL = BalanceTransaction("txn_withdrawal", amount_minor=-6_000, fee_minor=2_000, currency="EUR")
REINSTATEMENT = BalanceTransaction("txn_reinstatement", amount_minor=6_000, fee_minor=-2_000, currency="EUR")
# 100.00 EUR, creator share 85.00, 40.00 already refunded: the dispute is on the other 60.00.
PAYMENT = PaymentShare(price_minor=10_000, creator_share_minor=8_500, taken_back_minor=4_000)
MONEY = ("created", "funds_withdrawn", "funds_reinstated", "closed")


def snapshot(status: str, observed_at: int, *transactions: BalanceTransaction, due: datetime | None = DUE,
             amount: int = 6_000) -> Snapshot:
    return Snapshot(stripe_dispute_id="dp_1", amount_minor=amount, currency="EUR", status=status,
                    reason="fraudulent", evidence_due_by=due, balance_transactions=transactions,
                    observed_at=observed_at)


def run(snapshots, payment: PaymentShare = PAYMENT) -> tuple[Dispute | None, int, list]:
    """The snapshots as one batch: the dispute and the payment's taken-back total
    its last step left, and every step's emits in order."""
    steps = list(apply_in_order({}, [(seen, "the payment", payment) for seen in snapshots]))
    if not steps:
        return None, payment.taken_back_minor, []
    return steps[-1].dispute, steps[-1].taken_back_minor, [emit for step in steps for emit in step.emits]


def kinds(emits) -> list[str]:
    return [e.kind for e in emits]


def money(emits) -> list[tuple[str, str | None]]:
    return [(e.kind, e.balance_transaction and e.balance_transaction.id) for e in emits if e.kind in MONEY]


def assert_lifecycle_order(emits) -> None:
    """DisputeCreated first, DisputeClosed last, each once; funds once per transaction."""
    names = kinds(emits)
    assert names.count("created") == 1 and names[0] == "created"
    assert names.count("closed") == 1 and names[-1] == "closed"
    transactions = [e.balance_transaction.id for e in emits if e.balance_transaction]
    assert len(transactions) == len(set(transactions))


LOST = {
    "created": snapshot("needs_response", 100),
    "funds_withdrawn": snapshot("needs_response", 101, WITHDRAWAL),
    "updated": snapshot("under_review", 200, WITHDRAWAL),
    "closed": snapshot("lost", 300, WITHDRAWAL),
}
WON = {
    "created": snapshot("needs_response", 100),
    "funds_withdrawn": snapshot("needs_response", 101, WITHDRAWAL),
    "updated": snapshot("under_review", 200, WITHDRAWAL),
    "closed": snapshot("won", 300, WITHDRAWAL, REINSTATEMENT),
    "funds_reinstated": snapshot("won", 301, WITHDRAWAL, REINSTATEMENT),
}


def test_a_dispute_in_stripe_order_announces_each_stage_once():
    dispute, taken_back, emits = run(LOST.values())

    assert kinds(emits) == ["created", "funds_withdrawn", "updated", "closed"]
    assert emits[1].balance_transaction == WITHDRAWAL
    assert (dispute.status, dispute.outcome, dispute.closed) == ("lost", "lost", True)
    # cumulative with the 40.00 refund: floor(8500 * 100 / 100) - floor(8500 * 40 / 100)
    assert dispute.creator_share_minor == 8_500 - 3_400
    assert (dispute.taken_back_minor, taken_back) == (6_000, 10_000)


@pytest.mark.parametrize("order", list(permutations(LOST)), ids="-".join)
def test_every_order_of_a_lost_dispute_ends_the_same(order):
    expected_dispute, expected_taken_back, expected = run(LOST.values())

    dispute, taken_back, emits = run(LOST[name] for name in order)

    assert (dispute, taken_back) == (expected_dispute, expected_taken_back)
    assert money(emits) == money(expected) == [("created", None), ("funds_withdrawn", WITHDRAWAL.id), ("closed", None)]
    assert_lifecycle_order(emits)
    assert kinds(emits).count("updated") <= 1


@pytest.mark.parametrize("order", list(permutations(WON)), ids="-".join)
def test_every_order_of_a_won_dispute_ends_the_same(order):
    expected_dispute, expected_taken_back, expected = run(WON.values())

    dispute, taken_back, emits = run(WON[name] for name in order)

    assert (dispute, taken_back) == (expected_dispute, expected_taken_back)
    assert money(emits) == money(expected) == [
        ("created", None), ("funds_withdrawn", WITHDRAWAL.id), ("funds_reinstated", REINSTATEMENT.id), ("closed", None),
    ]
    assert_lifecycle_order(emits)
    assert (dispute.outcome, taken_back) == ("won", 4_000)  # the share is back: only the refund is taken


@given(st.lists(st.sampled_from(sorted(LOST)), min_size=4, max_size=12).filter(lambda names: set(names) == set(LOST)))
def test_duplicated_events_in_any_order_end_as_the_ordered_sequence(names):
    expected_dispute, expected_taken_back, expected = run(LOST.values())

    dispute, taken_back, emits = run(LOST[name] for name in names)

    assert (dispute, taken_back, money(emits)) == (expected_dispute, expected_taken_back, money(expected))
    assert_lifecycle_order(emits)


def test_a_closed_event_arriving_first_announces_creation_withdrawal_and_outcome_in_order():
    step = apply(None, LOST["closed"], PAYMENT)

    assert kinds(step.emits) == ["created", "funds_withdrawn", "closed"]
    assert (step.dispute.outcome, step.taken_back_minor) == ("lost", 10_000)


def test_later_events_for_a_closed_dispute_change_nothing():
    closed = apply(None, LOST["closed"], PAYMENT)
    payment = PaymentShare(10_000, 8_500, closed.taken_back_minor)

    for late in (LOST["created"], LOST["updated"], LOST["funds_withdrawn"], LOST["closed"]):
        assert apply(closed.dispute, late, payment) == Step(closed.dispute, closed.taken_back_minor, ())


def test_the_same_update_twice_is_announced_once():
    dispute, _, emits = run([LOST["created"], LOST["updated"], LOST["updated"],
                             snapshot("under_review", 250, WITHDRAWAL)])

    assert kinds(emits) == ["created", "funds_withdrawn", "updated"]
    assert dispute.observed_at == 250


def test_a_new_evidence_due_date_is_an_update():
    later = datetime(2026, 9, 27, tzinfo=UTC)
    dispute, _, emits = run([LOST["created"], snapshot("needs_response", 150, due=later)])

    assert kinds(emits) == ["created", "updated"]
    assert dispute.evidence_due_by == later


def test_a_stale_update_does_not_roll_the_status_back():
    dispute, _, emits = run([LOST["created"], snapshot("under_review", 200), snapshot("needs_response", 150)])

    assert dispute.status == "under_review"
    assert kinds(emits) == ["created", "updated"]


@pytest.mark.parametrize("order", [("needs_response", "under_review"), ("under_review", "needs_response")])
def test_within_one_second_the_later_stage_wins(order):
    dispute, _, _ = run([snapshot(status, 100) for status in order])

    assert dispute.status == "under_review"


def test_a_status_stripe_adds_later_is_kept_as_an_open_update():
    dispute, _, emits = run([LOST["created"], snapshot("appeal_needs_response", 200)])

    assert (dispute.status, dispute.closed) == ("appeal_needs_response", False)
    assert kinds(emits) == ["created", "updated"]


def test_a_dispute_first_seen_with_an_unknown_status_freezes_the_share():
    step = apply(None, snapshot("some_future_status", 100), PAYMENT)

    assert kinds(step.emits) == ["created"]
    assert step.dispute.creator_share_minor == 5_100


def test_an_inquiry_freezes_nothing_and_closes_without_an_event():
    dispute, taken_back, emits = run([
        snapshot("warning_needs_response", 100, due=None),
        snapshot("warning_under_review", 200, due=None),
        snapshot("warning_closed", 300, due=None),
    ])

    assert emits == []
    assert (dispute.creator_share_minor, dispute.closed, dispute.outcome) == (None, True, None)
    assert taken_back == PAYMENT.taken_back_minor


def test_an_inquiry_escalating_to_a_chargeback_is_announced_then():
    dispute, taken_back, emits = run([
        snapshot("warning_needs_response", 100),
        snapshot("needs_response", 200, WITHDRAWAL),
    ])

    assert kinds(emits) == ["created", "funds_withdrawn"]
    assert (dispute.creator_share_minor, taken_back) == (5_100, 10_000)


def test_a_prevented_dispute_that_was_announced_gives_the_share_back():
    dispute, taken_back, emits = run([LOST["created"], snapshot("prevented", 200)])

    assert kinds(emits) == ["created", "closed"]
    assert (dispute.outcome, taken_back) == ("won", PAYMENT.taken_back_minor)


def test_money_moving_on_a_dispute_closed_without_outcome_is_refused():
    closed, _, _ = run([snapshot("warning_closed", 100)])

    with pytest.raises(UnbookableBalanceTransaction):
        apply(closed, snapshot("warning_closed", 200, WITHDRAWAL), PAYMENT)


def test_a_reinstatement_after_the_close_is_still_booked():
    closed_without_it = snapshot("won", 300, WITHDRAWAL)
    dispute, _, emits = run([LOST["created"], closed_without_it, WON["funds_reinstated"]])

    assert kinds(emits) == ["created", "funds_withdrawn", "closed", "funds_reinstated"]
    assert dispute.balance_transaction_ids == {WITHDRAWAL.id, REINSTATEMENT.id}


def test_the_share_is_cumulative_with_refunds_and_capped_at_the_price():
    step = apply(None, snapshot("needs_response", 100, amount=6_000), PaymentShare(10_000, 8_500, 8_000))

    # only 20.00 was left to take back: floor(8500 * 100 / 100) - floor(8500 * 80 / 100)
    assert (step.dispute.taken_back_minor, step.dispute.creator_share_minor, step.taken_back_minor) == (2_000, 1_700, 10_000)


@given(price=st.integers(1, 10**6), data=st.data())
def test_disputes_on_the_whole_price_freeze_exactly_the_creator_share(price, data):
    share = data.draw(st.integers(0, price))
    amounts = data.draw(st.lists(st.integers(1, price), min_size=1, max_size=6))
    taken_back, frozen = 0, 0
    for n, amount in enumerate(amounts):
        seen = Snapshot(f"dp_{n}", amount, "EUR", "lost", None, None, (), observed_at=1)
        step = apply(None, seen, PaymentShare(price, share, taken_back))
        taken_back, frozen = step.taken_back_minor, frozen + step.dispute.creator_share_minor

    assert taken_back == min(price, sum(amounts))
    assert frozen == share * taken_back // price


def stripe_dispute(**fields) -> dict:
    return {
        "id": "dp_1", "object": "dispute", "amount": 10_000, "currency": "eur", "status": "needs_response",
        "reason": "fraudulent", "payment_intent": "pi_1", "charge": "ch_1",
        "evidence_details": {"due_by": 1_789_000_000, "has_evidence": False, "past_due": False},
        "balance_transactions": [{
            "id": "txn_1", "object": "balance_transaction", "amount": -10_000, "currency": "eur", "fee": 2_000,
            "fee_details": [{"amount": 2_000, "currency": "eur", "description": "Dispute fee", "type": "stripe_fee"}],
            "net": -12_000, "reporting_category": "dispute", "type": "adjustment",
        }],
        **fields,
    }


def test_a_stripe_dispute_is_read_with_the_fee_its_balance_transaction_states():
    seen = snapshot_from_stripe(stripe_dispute(), observed_at=42)

    [transaction] = seen.balance_transactions
    assert (transaction.kind, transaction.moved_minor, transaction.fee_moved_minor, transaction.currency) == (
        "funds_withdrawn", 10_000, 2_000, "EUR")
    assert (seen.currency, seen.evidence_due_by, seen.observed_at) == ("EUR", datetime.fromtimestamp(1_789_000_000, UTC), 42)


def test_a_dispute_fee_and_a_counter_fee_are_both_taken_as_stated():
    fees = [{"amount": 1_500, "currency": "eur", "type": "stripe_fee"}, {"amount": 1_500, "currency": "eur", "type": "stripe_fee"}]
    obj = stripe_dispute(balance_transactions=[{"id": "txn_1", "amount": -10_000, "currency": "eur", "fee": 3_000,
                                                "fee_details": fees}])

    [transaction] = snapshot_from_stripe(obj, observed_at=1).balance_transactions
    assert transaction.fee_moved_minor == 3_000


def test_a_due_date_of_zero_means_no_response_is_possible():
    assert snapshot_from_stripe(stripe_dispute(evidence_details={"due_by": 0}), observed_at=1).evidence_due_by is None


@pytest.mark.parametrize("broken", [
    {"amount": "10000"}, {"amount": 0}, {"status": None}, {"id": None},
    {"balance_transactions": [{"id": "txn_1", "amount": -100, "currency": "eur"}]},
    {"balance_transactions": [{"id": "txn_1", "amount": -100, "fee": 10, "currency": "eur",
                               "fee_details": [{"amount": 5}]}]},
])
def test_a_malformed_dispute_is_refused(broken):
    with pytest.raises(MalformedDispute):
        snapshot_from_stripe(stripe_dispute(**broken), observed_at=1)


@pytest.mark.parametrize(("amount", "fee"), [(-100, -10), (100, 10)])
def test_a_balance_transaction_whose_fee_runs_against_its_direction_is_unbookable(amount, fee):
    with pytest.raises(UnbookableBalanceTransaction):
        _ = BalanceTransaction("txn_1", amount, fee, "EUR").kind


def test_a_zero_balance_transaction_moves_nothing():
    dispute, _, emits = run([snapshot("needs_response", 100, BalanceTransaction("txn_0", 0, 0, "EUR"))])

    assert kinds(emits) == ["created"]
    assert dispute.balance_transaction_ids == {"txn_0"}


def test_a_converted_balance_transaction_reads_stripes_rate_and_moves_the_whole_disputed_amount():
    # A 60.00 EUR dispute on a platform settling in USD: 65.22 USD taken, a 15.00 USD fee.
    seen = snapshot_from_stripe(stripe_dispute(balance_transactions=[
        {"id": "txn_usd", "amount": -6_522, "fee": 1_500, "currency": "usd", "exchange_rate": 1.087},
        {"id": "txn_counter", "amount": 0, "fee": 1_500, "currency": "usd", "exchange_rate": None},
    ]), observed_at=1)
    withdrawal, counter_fee = seen.balance_transactions

    assert (withdrawal.currency, withdrawal.exchange_rate) == ("USD", "1.087")
    assert withdrawal.moved_in_dispute_currency(6_000, "EUR") == 6_000
    assert counter_fee.moved_in_dispute_currency(6_000, "EUR") == 0
    assert WITHDRAWAL.moved_in_dispute_currency(6_000, "EUR") == 6_000  # unconverted: what it moved


def test_a_balance_transaction_with_an_unusable_exchange_rate_is_malformed():
    with pytest.raises(MalformedDispute):
        snapshot_from_stripe(stripe_dispute(balance_transactions=[
            {"id": "txn_1", "amount": -100, "fee": 0, "currency": "usd", "exchange_rate": "soon"},
        ]), observed_at=1)


def test_two_disputes_of_one_payment_in_a_batch_freeze_its_share_cumulatively_up_to_the_price():
    first, second = snapshot("needs_response", 100), replace(snapshot("needs_response", 100), stripe_dispute_id="dp_2")

    steps = list(apply_in_order({}, [(first, "p", PAYMENT), (second, "p", PAYMENT)]))

    # 40.00 refunded before: the first takes the other 60.00, the second finds nothing left
    assert [(s.dispute.creator_share_minor, s.taken_back_minor) for s in steps] == [(5_100, 10_000), (0, 10_000)]


def test_a_stored_dispute_is_where_the_batch_starts_from():
    [created] = list(apply_in_order({}, [(snapshot("needs_response", 100), "p", PAYMENT)]))

    [closed] = list(apply_in_order({"dp_1": created.dispute}, [(snapshot("lost", 200, WITHDRAWAL), "p", PAYMENT)]))

    assert kinds(closed.emits) == ["funds_withdrawn", "closed"]  # no second creation


def test_a_refused_snapshot_raises_at_its_place_in_the_batch():
    steps = apply_in_order({}, [(snapshot("warning_closed", 100), "p", PAYMENT), (snapshot("warning_closed", 200, WITHDRAWAL), "p", PAYMENT)])

    assert next(steps).dispute.closed
    with pytest.raises(UnbookableBalanceTransaction):
        next(steps)
