"""The creator's entitlement on a payment: one function of the payment's totals."""

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import domain
from ledger.domain.entitlement import (
    DISPUTE,
    DISPUTE_LOST,
    DISPUTE_OPEN,
    DISPUTE_WON,
    REFUND,
    REFUND_FAILED,
    REFUNDED,
    PaymentTotals,
    Takeback,
    creator_entitlement,
    entitlement_change,
    frozen_share,
    payment_totals,
)

HUNDRED = PaymentTotals(price_minor=10000, creator_share_minor=8500)


def test_the_share_less_floor_of_the_share_taken_back() -> None:
    assert creator_entitlement(HUNDRED) == 8500
    assert creator_entitlement(replace(HUNDRED, refunded_minor=1001)) == 8500 - 850
    assert creator_entitlement(replace(HUNDRED, refunded_minor=4000, disputed_lost_minor=6000)) == 0


def test_a_failed_refund_gives_back_the_recomputed_difference_not_its_own_clawback() -> None:
    # refunds of 1001 (clawback 850) and 5001 (4251); the first fails: 851 comes back
    both = replace(HUNDRED, refunded_minor=6002)
    assert entitlement_change(both, replace(both, refunded_minor=5001)).entitled_minor == 851


def test_a_dispute_read_before_a_refund_is_won_back_to_the_refund_alone() -> None:
    disputed = replace(HUNDRED, disputed_open_minor=8999)
    assert (creator_entitlement(disputed), frozen_share(disputed)) == (851, 7649)
    both = replace(disputed, refunded_minor=1001)
    assert (creator_entitlement(both), frozen_share(both)) == (0, 7650)
    won = entitlement_change(both, replace(both, disputed_open_minor=0))
    assert (won.entitled_minor, won.frozen_minor) == (7650, -7650)


def test_more_taken_than_the_price_for_a_while_counts_as_the_price() -> None:
    # a refund read before its failure, a dispute of the whole price read between
    totals = replace(HUNDRED, refunded_minor=6000, disputed_open_minor=10000)
    assert totals.taken_minor == 10000
    assert creator_entitlement(totals) == 0


def test_totals_are_summed_from_the_refunds_and_disputes_as_they_stand() -> None:
    totals = payment_totals(10000, 8500, [
        Takeback(REFUND, REFUNDED, 1000), Takeback(REFUND, REFUND_FAILED, 500), Takeback(DISPUTE, DISPUTE_OPEN, 2000),
        Takeback(DISPUTE, DISPUTE_WON, 3000), Takeback(DISPUTE, DISPUTE_LOST, 700),
    ])
    assert totals == PaymentTotals(10000, 8500, refunded_minor=1000, disputed_open_minor=2000, disputed_lost_minor=700)
    with pytest.raises(domain.InvalidAmounts):
        payment_totals(10000, 8500, [Takeback(REFUND, DISPUTE_WON, 1)])


@pytest.mark.parametrize("bad", [dict(creator_share_minor=10001), dict(refunded_minor=-1), dict(price_minor=True)])
def test_impossible_totals_are_refused(bad) -> None:
    with pytest.raises(domain.InvalidAmounts):
        PaymentTotals(**{"price_minor": 10000, "creator_share_minor": 8500, **bad})


@st.composite
def totals(draw) -> PaymentTotals:
    price = draw(st.integers(1, 10**7))
    share = draw(st.integers(0, price))
    amount = st.integers(0, price)
    return PaymentTotals(price, share, draw(amount), draw(amount), draw(amount))


@given(totals=totals())
def test_the_creator_keeps_between_nothing_and_the_share_and_frozen_is_never_negative(totals) -> None:
    assert 0 <= creator_entitlement(totals) <= totals.creator_share_minor
    assert 0 <= frozen_share(totals) <= totals.creator_share_minor - creator_entitlement(totals)


@given(totals=totals(), more=st.integers(0, 10**7))
def test_taking_more_back_never_gives_the_creator_more(totals, more: int) -> None:
    assert creator_entitlement(replace(totals, refunded_minor=totals.refunded_minor + more)) <= creator_entitlement(totals)


@given(price=st.integers(1, 10**7), cuts=st.lists(st.integers(1, 10**6), min_size=1, max_size=12), data=st.data())
def test_movements_in_any_order_add_up_to_the_value_at_the_final_totals(price: int, cuts: list[int], data) -> None:
    share = -(-price * 8500 // 10000)
    # refunds and disputes (open, won or lost) in some order; the entitlement's
    # differences add up to its value at the end, the frozen share's too
    moves = [(data.draw(st.sampled_from(["refunded", "disputed_open", "disputed_lost"])), cut) for cut in cuts]
    order = data.draw(st.permutations(moves))
    current = PaymentTotals(price, share)
    entitled, frozen = creator_entitlement(current), frozen_share(current)
    for field, amount in order:
        after = replace(current, **{f"{field}_minor": getattr(current, f"{field}_minor") + amount})
        change = entitlement_change(current, after)
        entitled, frozen, current = entitled + change.entitled_minor, frozen + change.frozen_minor, after
    assert (entitled, frozen) == (creator_entitlement(current), frozen_share(current))
    taken = min(price, sum(amount for _, amount in moves))
    assert entitled == share - share * taken // price
