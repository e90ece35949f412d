import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.domain.clawback import clawback


@st.composite
def payment_and_partials(draw):
    """A (share, price) and a list of positive parts adding up to the price."""
    price = draw(st.integers(min_value=1, max_value=10**9))
    share = draw(st.integers(min_value=0, max_value=price))
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=price - 1), max_size=20))) if price > 1 else []
    bounds = [0, *cuts, price]
    return share, price, [b - a for a, b in zip(bounds, bounds[1:], strict=False)]


@given(payment_and_partials())
def test_partial_refunds_adding_up_to_the_price_take_back_exactly_the_share(case):
    share, price, parts = case
    taken, total = 0, 0
    for part in parts:
        step = clawback(share, price, taken, taken + part)
        assert step >= 0
        total += step
        taken += part
    assert total == share


@given(payment_and_partials())
def test_cumulative_clawback_is_the_floor_of_the_proportional_share_at_every_step(case):
    share, price, parts = case
    taken, total = 0, 0
    for part in parts:
        total += clawback(share, price, taken, taken + part)
        taken += part
        assert total == share * taken // price
        assert total * price <= share * taken < (total + 1) * price


@given(payment_and_partials(), st.data())
def test_a_reversed_movement_gives_back_exactly_what_it_took(case, data):
    share, price, _ = case
    before = data.draw(st.integers(min_value=0, max_value=price))
    after = data.draw(st.integers(min_value=before, max_value=price))
    taken = clawback(share, price, before, after)
    assert clawback(share, price, after, before) == -taken


@pytest.mark.parametrize(
    ("share", "price", "before", "after", "expected"),
    [
        (85, 100, 0, 100, 85),
        (85, 100, 0, 50, 42),  # 42.5 rounds down: the creator keeps the half
        (85, 100, 50, 100, 43),  # and gives it back with the last part
        (85, 99, 0, 1, 0),
        (85, 99, 98, 99, 1),
        (0, 100, 0, 100, 0),
        (100, 100, 10, 30, 20),
        (85, 100, 30, 30, 0),
    ],
)
def test_clawback_examples(share, price, before, after, expected):
    assert clawback(share, price, before, after) == expected


@pytest.mark.parametrize(
    ("share", "price", "before", "after"),
    [
        (85, 0, 0, 0),
        (101, 100, 0, 10),
        (-1, 100, 0, 10),
        (85, 100, -1, 10),
        (85, 100, 0, 101),
    ],
)
def test_clawback_refuses_amounts_outside_the_payment(share, price, before, after):
    with pytest.raises(ValueError):
        clawback(share, price, before, after)


@pytest.mark.parametrize("bad", [1.0, "10", True, None])
def test_clawback_refuses_what_is_not_an_integer(bad):
    with pytest.raises(TypeError):
        clawback(85, 100, 0, bad)
