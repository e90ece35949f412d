import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import domain
from ledger.domain import Posting, UnbalancedEntry


def total(postings: list[Posting]) -> int:
    return sum(p.amount_minor for p in postings)


def test_payment_of_100_eur_credits_85_to_creator_and_15_to_platform() -> None:
    postings = domain.payment_postings("c1", 10000, 8500, "EUR")
    assert {p.account: p.amount_minor for p in postings} == {
        "stripe:balance": 10000,
        "creator:c1:available": -8500,
        "platform:revenue": -1500,
    }


@given(price=st.integers(1, 10**9), share_bps=st.integers(0, 10000))
def test_payment_entry_balances_for_any_price(price: int, share_bps: int) -> None:
    share = -(-price * share_bps // 10000)
    assert total(domain.payment_postings("c", price, share, "EUR")) == 0


@given(fee=st.integers(0, 10**7))
def test_fee_entry_balances_and_never_touches_the_creator(fee: int) -> None:
    postings = domain.fee_postings(fee, "EUR")
    assert total(postings) == 0
    assert not any(p.account.startswith("creator:") for p in postings)


def test_unbalanced_entry_is_refused() -> None:
    with pytest.raises(UnbalancedEntry):
        domain.check_balanced([Posting("stripe:balance", 100, "EUR"), Posting("platform:revenue", -99, "EUR")])


def test_entry_balanced_in_sum_but_not_per_currency_is_refused() -> None:
    with pytest.raises(UnbalancedEntry):
        domain.check_balanced([Posting("stripe:balance", 100, "EUR"), Posting("platform:revenue", -100, "USD")])


def test_empty_entry_is_refused() -> None:
    with pytest.raises(UnbalancedEntry):
        domain.check_balanced([])


def test_creator_balance_reads_credit_normal_buckets_and_debit_normal_debt() -> None:
    sums = {
        "creator:c1:available": -8500,
        "creator:c1:reserved": -1000,
        "creator:c1:debt": 600,
        "creator:c2:available": -1,
    }
    balance = domain.creator_balance("c1", "EUR", sums)
    assert (balance.available_minor, balance.disputed_minor, balance.reserved_minor, balance.debt_minor) == (
        8500, 0, 1000, 600,
    )


def test_unknown_creator_bucket_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        domain.creator_account("c1", "pocket")


def test_partial_refund_fully_covered_takes_the_clawback_from_available_and_posts_no_debt() -> None:
    postings = domain.refund_postings("c1", 4000, entitled_change=-3400, frozen_change=0, available=8500,
                                      currency="EUR")
    assert by_account(postings) == {
        "stripe:balance": -4000,
        "creator:c1:available": 3400,
        "platform:revenue": 600,
    }


def test_refund_beyond_available_turns_the_shortfall_into_debt() -> None:
    postings = domain.refund_postings("c1", 10000, entitled_change=-8500, frozen_change=0, available=3000,
                                      currency="EUR")
    assert by_account(postings) == {
        "stripe:balance": -10000,
        "creator:c1:available": 3000,
        "creator:c1:debt": 5500,
        "platform:revenue": 1500,
    }
    assert domain.debt_posted("c1", postings) == 5500


def test_refund_with_a_negative_available_never_adds_to_it() -> None:
    postings = domain.refund_postings("c1", 100, entitled_change=-85, frozen_change=0, available=-10, currency="EUR")
    assert by_account(postings)["creator:c1:debt"] == 85
    assert "creator:c1:available" not in by_account(postings)


def test_refund_that_shifts_an_open_disputes_frozen_share_by_a_unit_settles_it_with_the_platform() -> None:
    # dispute of 8999 open on 100.00 (7649 frozen), then a refund of 1001: the
    # entitlement goes from 851 to 0 and the frozen share from 7649 to 7650
    postings = domain.refund_postings("c1", 1001, entitled_change=-851, frozen_change=1, available=851,
                                      currency="EUR")
    assert by_account(postings) == {
        "stripe:balance": -1001,
        "creator:c1:available": 851,
        "creator:c1:disputed": -1,
        "platform:revenue": 151,
    }


def test_clawback_above_the_refund_is_refused() -> None:
    with pytest.raises(domain.InvalidAmounts):
        domain.refund_postings("c1", 100, entitled_change=-101, frozen_change=0, available=1000, currency="EUR")


def test_failed_refund_with_no_debt_gives_back_to_available() -> None:
    reversal = domain.refund_reversal_postings("c1", 4000, entitled_change=3400, frozen_change=0, debt_open=0,
                                               currency="EUR")
    assert by_account(reversal) == {
        "stripe:balance": 4000,
        "creator:c1:available": -3400,
        "platform:revenue": -600,
    }


def test_failed_refund_cancels_what_is_open_of_its_debt_first_and_gives_the_rest_to_available() -> None:
    # refund of 100.00 took 30.00 from available and 55.00 as debt, 20.00 of it deducted since
    reversal = by_account(domain.refund_reversal_postings(
        "c1", 10000, entitled_change=8500, frozen_change=0, debt_open=3500, currency="EUR"))
    assert reversal == {
        "stripe:balance": 10000,
        "creator:c1:available": -5000,  # 3000 taken from available + 2000 taken from a payout
        "creator:c1:debt": -3500,  # only what is still owed
        "platform:revenue": -1500,
    }


@given(
    amount=st.integers(1, 10**7),
    given_back_ratio=st.fractions(0, 1),
    debt_open=st.integers(0, 10**7),
    frozen_change=st.integers(-1, 1),
)
def test_refund_reversal_balances_and_gives_the_creator_exactly_the_entitlement_regained(
    amount: int, given_back_ratio, debt_open: int, frozen_change: int
) -> None:
    given_back = int(amount * given_back_ratio)
    reversal = domain.refund_reversal_postings("c", amount, given_back, frozen_change, debt_open, "EUR")
    assert total(reversal) == 0
    sums = by_account(reversal)
    # what the creator is owed (available) up, what they owe (debt) down
    assert -sums.get("creator:c:available", 0) - sums.get("creator:c:debt", 0) == given_back
    assert -sums.get("creator:c:debt", 0) == min(debt_open, given_back)
    assert -sums.get("creator:c:disputed", 0) == frozen_change


def test_dispute_opened_freezes_the_share_and_a_shortfall_becomes_debt() -> None:
    postings = domain.dispute_opened_postings("c1", entitled_change=-5100, frozen_change=5100, available=2000,
                                              currency="EUR")
    assert by_account(postings) == {
        "creator:c1:available": 2000,
        "creator:c1:debt": 3100,
        "creator:c1:disputed": -5100,
    }


def test_dispute_funds_withdrawn_and_reinstated_move_the_amount_and_fee_through_stripe() -> None:
    assert by_account(domain.dispute_funds_withdrawn_postings(6000, 2000, "EUR")) == {
        "stripe:balance": -8000,
        "platform:dispute_fees": 2000,
        "stripe:disputed_funds": 6000,
    }
    assert by_account(domain.dispute_funds_reinstated_postings(6000, 2000, "EUR")) == {
        "stripe:balance": 8000,
        "platform:dispute_fees": -2000,
        "stripe:disputed_funds": -6000,
    }


def test_dispute_won_unfreezes_and_lost_writes_off() -> None:
    assert by_account(domain.dispute_won_postings("c1", 5100, -5100, "EUR")) == {
        "creator:c1:disputed": 5100,
        "creator:c1:available": -5100,
    }
    assert by_account(domain.dispute_lost_postings("c1", 6000, entitled_change=0, frozen_change=-5100,
                                                   currency="EUR")) == {
        "creator:c1:disputed": 5100,
        "platform:revenue": 900,
        "stripe:disputed_funds": -6000,
    }


def test_a_won_dispute_returning_a_unit_more_than_it_froze_takes_it_from_the_platform() -> None:
    assert by_account(domain.dispute_won_postings("c1", 7650, -7649, "EUR")) == {
        "creator:c1:disputed": 7649,
        "creator:c1:available": -7650,
        "platform:revenue": 1,
    }


def test_an_all_zero_entry_keeps_its_postings() -> None:
    postings = domain.dispute_opened_postings("c1", 0, 0, available=0, currency="EUR")
    assert postings and total(postings) == 0


def test_payouts_are_blocked_only_above_the_threshold() -> None:
    assert not domain.payouts_blocked(5000, 5000)
    assert domain.payouts_blocked(5001, 5000)


def test_debt_status_follows_its_amounts() -> None:
    assert domain.DebtAmounts(100, 100).status == "OPEN"
    assert domain.DebtAmounts(100, 40).status == "PARTIALLY_DEDUCTED"
    assert domain.DebtAmounts(100, 0).status == "SETTLED"
    reversed_ = domain.DebtAmounts(100, 40).reversed(40)
    assert (reversed_.remaining_minor, reversed_.reversed_minor, reversed_.deducted_minor) == (0, 40, 60)
    assert reversed_.status == "REVERSED"
    with pytest.raises(domain.InvalidAmounts):
        domain.DebtAmounts(100, 40).reversed(41)


# Payouts: reserve, release, pay, fail.

def by_account(postings: list[Posting]) -> dict[str, int]:
    sums: dict[str, int] = {}
    for p in postings:
        sums[p.account] = sums.get(p.account, 0) + p.amount_minor
    return sums


def test_request_within_available_reserves_the_gross_with_nothing_deducted() -> None:
    decision = domain.reserve(17000, [], 17000, minimum=1000, threshold=5000, currency_known=True)
    assert decision == domain.Reservation(17000, ())
    assert decision.net_minor == 17000
    assert by_account(domain.payout_reserved_postings("c1", 17000, 0, "EUR")) == {
        "creator:c1:available": 17000, "creator:c1:reserved": -17000,
    }


def test_all_available_reserves_what_available_holds() -> None:
    assert domain.reserve(4321, [], None, minimum=1000, threshold=5000, currency_known=True) == domain.Reservation(
        4321, ()
    )


@pytest.mark.parametrize(
    ("available", "debts", "requested", "known", "reason"),
    [
        (10000, [], 5000, False, domain.CURRENCY_MISMATCH),
        (10000, [9000], 2000, True, domain.DEBT_ABOVE_THRESHOLD),
        (10000, [4000, 4000], 2000, True, domain.DEBT_ABOVE_THRESHOLD),
        (0, [6000], None, True, domain.DEBT_ABOVE_THRESHOLD),
        (10000, [], 999, True, domain.BELOW_MINIMUM),
        (10000, [], 10001, True, domain.INSUFFICIENT_AVAILABLE),
        (0, [], None, True, domain.INSUFFICIENT_AVAILABLE),
        (999, [], None, True, domain.BELOW_MINIMUM),
    ],
)
def test_request_is_refused_with_its_reason(available, debts, requested, known, reason) -> None:
    open_debts = [domain.OpenDebt(f"d{i}", r) for i, r in enumerate(debts)]
    decision = domain.reserve(available, open_debts, requested, minimum=1000, threshold=5000, currency_known=known)
    assert isinstance(decision, domain.Refusal)
    assert decision.reason == reason


def test_debt_above_the_threshold_is_accepted_when_the_payout_brings_it_back_under() -> None:
    # 60.00 owed, threshold 50.00: a payout of 85.00 pays the debt off and nets 25.00
    decision = domain.reserve(8500, [domain.OpenDebt("d", 6000)], 8500, minimum=1000, threshold=5000,
                              currency_known=True)
    assert decision == domain.Reservation(8500, (domain.Deduction("d", 6000),))
    assert decision.net_minor == 2500


def test_debt_at_the_threshold_is_deducted_oldest_first() -> None:
    debts = [domain.OpenDebt("old", 3000), domain.OpenDebt("new", 2000)]
    decision = domain.reserve(10000, debts, 4000, minimum=1000, threshold=5000, currency_known=True)
    assert decision == domain.Reservation(4000, (domain.Deduction("old", 3000), domain.Deduction("new", 1000)))
    assert (decision.debt_deducted_minor, decision.net_minor) == (4000, 0)
    assert by_account(domain.payout_reserved_postings("c1", 4000, 4000, "EUR")) == {
        "creator:c1:available": 4000, "creator:c1:reserved": 0, "creator:c1:debt": -4000,
    }


open_debt_lists = st.lists(st.integers(1, 10**6), max_size=6).map(
    lambda amounts: [domain.OpenDebt(f"d{i}", a) for i, a in enumerate(amounts)]
)


@given(
    available=st.integers(-10**6, 10**7),
    debts=open_debt_lists,
    requested=st.none() | st.integers(1, 10**7),
    minimum=st.integers(0, 10**4),
    threshold=st.integers(0, 10**6),
)
def test_a_reservation_never_overdraws_and_deducts_at_most_what_is_owed(
    available, debts, requested, minimum, threshold
) -> None:
    decision = domain.reserve(available, debts, requested, minimum, threshold, currency_known=True)
    if isinstance(decision, domain.Refusal):
        return
    owed = {d.debt_id: d.remaining_minor for d in debts}
    assert minimum <= decision.gross_minor <= available  # available never goes negative
    assert all(0 < d.amount_minor <= owed[d.debt_id] for d in decision.deductions)
    assert decision.debt_deducted_minor == min(sum(owed.values()), decision.gross_minor)
    assert decision.net_minor + decision.debt_deducted_minor == decision.gross_minor
    assert decision.net_minor >= 0
    # FIFO: a debt is touched only once every older one is paid off
    taken = [d.debt_id for d in decision.deductions]
    assert taken == [d.debt_id for d in debts[: len(taken)]]
    assert all(d.amount_minor == owed[d.debt_id] for d in decision.deductions[:-1])


@given(gross=st.integers(0, 10**8), data=st.data())
def test_releasing_a_reservation_restores_every_account_exactly(gross: int, data) -> None:
    deducted = data.draw(st.integers(0, gross))
    reserved = domain.payout_reserved_postings("c1", gross, deducted, "EUR")
    released = domain.payout_released_postings("c1", gross, deducted, 0, "EUR")
    assert total(reserved) == total(released) == 0
    both = by_account(reserved + released)
    assert all(amount == 0 for amount in both.values())
    assert by_account(reserved).get("creator:c1:reserved", 0) == -(gross - deducted)  # the net is held


@given(gross=st.integers(1, 10**8), data=st.data())
def test_paid_then_failed_gives_the_gross_back_and_the_debt_again(gross: int, data) -> None:
    deducted = data.draw(st.integers(0, gross))
    net = gross - deducted
    entries = (
        domain.payout_reserved_postings("c1", gross, deducted, "EUR")
        + domain.payout_paid_postings("c1", net, "EUR")
        + domain.payout_failed_after_paid_postings("c1", gross, deducted, 0, "EUR")
    )
    assert all(amount == 0 for amount in by_account(entries).values())
    assert by_account(domain.payout_paid_postings("c1", net, "EUR")) == (
        {"creator:c1:reserved": net, "stripe:balance": -net} if net else {"creator:c1:reserved": 0, "stripe:balance": 0}
    )


def test_a_deduction_from_a_debt_cancelled_meanwhile_is_not_owed_again() -> None:
    # 100.00 reserved, 60.00 of it paid a refund's debt; the refund then failed, so
    # refund_reversal_postings gave those 60.00 back to available already.
    postings = domain.payout_released_postings("c1", 10000, 6000, 6000, "EUR")
    assert by_account(postings) == {"creator:c1:available": -4000, "creator:c1:reserved": 4000}
    debt = domain.DebtAmounts(6000, 0, 0)  # fully deducted, then its refund failed (nothing left to reverse)
    assert debt.restore(6000, cause_undone=True) == domain.DebtAmounts(6000, 0, 6000)
    assert debt.restore(6000, cause_undone=True).status == domain.DEBT_REVERSED


@given(amount=st.integers(1, 10**7), data=st.data())
def test_deducting_then_restoring_a_debt_leaves_it_as_it_was(amount: int, data) -> None:
    debt = domain.DebtAmounts(amount, amount)
    taken = data.draw(st.integers(0, amount))
    deducted = debt.deduct(taken)
    assert deducted.status == (
        domain.DEBT_OPEN if taken == 0 else domain.DEBT_SETTLED if taken == amount else domain.DEBT_PARTIALLY_DEDUCTED
    )
    assert deducted.restore(taken, cause_undone=False) == debt
    with pytest.raises(domain.InvalidAmounts):
        deducted.deduct(deducted.remaining_minor + 1)
    with pytest.raises(domain.InvalidAmounts):
        deducted.restore(taken + 1, cause_undone=False)


def test_an_entry_posts_unless_its_cause_or_reference_is_taken_in_the_journal_or_earlier_in_the_run() -> None:
    def keys(cause: str, reference: str | None) -> list[tuple]:
        return [("cause", cause)] + ([("reference", "payment", reference)] if reference else [])

    run = [keys("e1", "p1"), keys("e2", "p2"), keys("e3", "p2"), keys("e4", "p3"), keys("e5", None), keys("e6", None)]
    posted = [("reference", "payment", "p1"), ("cause", "e4")]
    assert domain.first_posted(run, posted) == [1, 4, 5]
    assert domain.first_posted(run, []) == [0, 1, 3, 4, 5]


def test_each_entry_of_a_run_leaves_its_creator_the_balance_after_the_entries_before_it() -> None:
    before = {"EUR": {"creator:c1:available": -1000, "creator:c1:debt": 300, "platform:revenue": -50}}
    run = [
        ("c1", "EUR", domain.payment_postings("c1", 1000, 850, "EUR")),
        ("c2", "USD", domain.payment_postings("c2", 2000, 1700, "USD")),
        ("c1", "EUR", domain.payment_postings("c1", 100, 85, "EUR")),
    ]
    assert domain.balances_after_each(before, run) == [
        domain.CreatorBalance("EUR", available_minor=1850, debt_minor=300),
        domain.CreatorBalance("USD", available_minor=1700),
        domain.CreatorBalance("EUR", available_minor=1935, debt_minor=300),
    ]
    assert before["EUR"]["creator:c1:available"] == -1000  # the sums read are not changed
