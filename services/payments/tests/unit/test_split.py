import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.domain.payments import InvalidAmount, split


@pytest.mark.parametrize(
    ("price", "share", "fee"),
    [
        (1, 1, 0),  # 0.85 rounds up: the creator never gets less than 85 %
        (99, 85, 14),  # 84.15 -> 85
        (100, 85, 15),
        (9999, 8500, 1499),  # 8499.15 -> 8500
        (10000, 8500, 1500),
        (0, 0, 0),
    ],
)
def test_split_rounds_the_creator_share_up(price, share, fee):
    result = split(price)
    assert (result.price_minor, result.creator_share_minor, result.platform_fee_minor) == (price, share, fee)


def test_split_honours_another_share():
    assert split(1000, 7000).creator_share_minor == 700
    assert split(1001, 7000).creator_share_minor == 701  # 700.7 -> 701


def test_split_of_a_huge_price_stays_exact():
    # Where a float would round: 10**17 * 0.85 is not exact in binary floating point.
    price = 10**17 + 1
    assert split(price).creator_share_minor == 85 * 10**15 + 1


@pytest.mark.parametrize("price", [-1, 1.0, "100", True, None])
def test_split_refuses_what_is_not_a_non_negative_integer(price):
    with pytest.raises(InvalidAmount):
        split(price)


@pytest.mark.parametrize("bps", [-1, 10_001, 85.0])
def test_split_refuses_a_share_outside_0_to_100_percent(bps):
    with pytest.raises(ValueError):
        split(100, bps)


@given(price=st.integers(0, 10**12), bps=st.integers(0, 10_000))
def test_split_is_the_smallest_share_at_least_the_promised_fraction(price, bps):
    result = split(price, bps)
    assert result.creator_share_minor * 10_000 >= price * bps
    assert (result.creator_share_minor - 1) * 10_000 < price * bps
    assert result.creator_share_minor + result.platform_fee_minor == price
    assert 0 <= result.platform_fee_minor <= price


@given(price=st.integers(0, 10**12))
def test_default_split_gives_the_creator_at_least_85_percent(price):
    result = split(price)
    assert result.creator_share_minor * 10_000 >= price * 8500
    assert (result.creator_share_minor - 1) * 10_000 < price * 8500
    assert result.creator_share_minor + result.platform_fee_minor == price
