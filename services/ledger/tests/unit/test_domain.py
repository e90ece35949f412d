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
