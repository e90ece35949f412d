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


def by_account(postings: list[Posting]) -> dict[str, int]:
    return {p.account: p.amount_minor for p in postings}


def test_partial_refund_fully_covered_takes_the_clawback_from_available_and_posts_no_debt() -> None:
    postings = domain.refund_postings("c1", amount=4000, clawback=3400, available=8500, currency="EUR")
    assert by_account(postings) == {
        "stripe:balance": -4000,
        "creator:c1:available": 3400,
        "platform:revenue": 600,
    }


def test_refund_beyond_available_turns_the_shortfall_into_debt() -> None:
    postings = domain.refund_postings("c1", amount=10000, clawback=8500, available=3000, currency="EUR")
    assert by_account(postings) == {
        "stripe:balance": -10000,
        "creator:c1:available": 3000,
        "creator:c1:debt": 5500,
        "platform:revenue": 1500,
    }
    assert domain.debt_posted("c1", postings) == 5500


def test_refund_with_a_negative_available_never_adds_to_it() -> None:
    postings = domain.refund_postings("c1", amount=100, clawback=85, available=-10, currency="EUR")
    assert by_account(postings)["creator:c1:debt"] == 85
    assert "creator:c1:available" not in by_account(postings)


def test_clawback_above_the_refund_is_refused() -> None:
    with pytest.raises(domain.InvalidAmounts):
        domain.refund_postings("c1", amount=100, clawback=101, available=1000, currency="EUR")


def test_failed_refund_posts_the_refund_entry_negated() -> None:
    refund = domain.refund_postings("c1", amount=10000, clawback=8500, available=3000, currency="EUR")
    assert by_account(domain.refund_reversal_postings("c1", refund, debt_deducted=0)) == {
        "stripe:balance": 10000,
        "creator:c1:available": -3000,
        "creator:c1:debt": -5500,
        "platform:revenue": -1500,
    }


def test_failed_refund_whose_debt_was_partly_deducted_gives_the_deducted_part_back_to_available() -> None:
    refund = domain.refund_postings("c1", amount=10000, clawback=8500, available=3000, currency="EUR")
    reversal = by_account(domain.refund_reversal_postings("c1", refund, debt_deducted=2000))
    assert reversal == {
        "stripe:balance": 10000,
        "creator:c1:available": -5000,  # 3000 taken from available + 2000 taken from a payout
        "creator:c1:debt": -3500,  # only what is still owed
        "platform:revenue": -1500,
    }


@given(
    amount=st.integers(1, 10**7),
    clawback_ratio=st.fractions(0, 1),
    available=st.integers(-1000, 10**7),
    deducted_ratio=st.fractions(0, 1),
)
def test_refund_reversal_balances_and_returns_exactly_the_clawback_to_the_creator(
    amount: int, clawback_ratio, available: int, deducted_ratio
) -> None:
    clawback = int(amount * clawback_ratio)
    refund = domain.refund_postings("c", amount, clawback, available, "EUR")
    deducted = int(domain.debt_posted("c", refund) * deducted_ratio)
    reversal = domain.refund_reversal_postings("c", refund, deducted)
    assert total(reversal) == 0
    sums = by_account(reversal)
    # what the creator is owed (available) up, what they owe (debt) down
    creator_gain = -sums.get("creator:c:available", 0) - sums.get("creator:c:debt", 0)
    assert creator_gain == clawback
    assert -sums.get("creator:c:debt", 0) == domain.debt_posted("c", refund) - deducted


def test_dispute_opened_freezes_the_share_and_a_shortfall_becomes_debt() -> None:
    assert by_account(domain.dispute_opened_postings("c1", share=5100, available=2000, currency="EUR")) == {
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
    assert by_account(domain.dispute_won_postings("c1", 5100, "EUR")) == {
        "creator:c1:disputed": 5100,
        "creator:c1:available": -5100,
    }
    assert by_account(domain.dispute_lost_postings("c1", amount=6000, share=5100, currency="EUR")) == {
        "creator:c1:disputed": 5100,
        "platform:revenue": 900,
        "stripe:disputed_funds": -6000,
    }


def test_an_all_zero_entry_keeps_its_postings() -> None:
    postings = domain.dispute_opened_postings("c1", share=0, available=0, currency="EUR")
    assert postings and total(postings) == 0


def test_payouts_are_blocked_only_above_the_threshold() -> None:
    assert not domain.payouts_blocked(5000, 5000)
    assert domain.payouts_blocked(5001, 5000)


def test_debt_status_follows_its_amounts() -> None:
    assert domain.DebtAmounts(100, 100).status == "OPEN"
    assert domain.DebtAmounts(100, 40).status == "PARTIALLY_DEDUCTED"
    assert domain.DebtAmounts(100, 0).status == "SETTLED"
    reversed_ = domain.DebtAmounts(100, 40).reversed()
    assert (reversed_.remaining_minor, reversed_.reversed_minor, reversed_.deducted_minor) == (0, 40, 60)
    assert reversed_.status == "REVERSED"
