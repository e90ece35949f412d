"""What a payout request may ask for."""

import pytest

from payouts.domain import amounts, errors


@pytest.mark.parametrize("amount", [0, -1, -1000, 1.5, "1000", True])
def test_an_amount_must_be_a_positive_integer(amount: object) -> None:
    with pytest.raises(errors.InvalidAmount):
        amounts.check_request(amount, False, 1000)  # type: ignore[arg-type]


def test_an_amount_below_the_minimum_is_refused_but_the_minimum_is_accepted() -> None:
    with pytest.raises(errors.BelowMinimum):
        amounts.check_request(999, False, 1000)
    amounts.check_request(1000, False, 1000)


def test_all_available_takes_no_amount_and_an_amount_is_needed_otherwise() -> None:
    amounts.check_request(None, True, 1000)
    with pytest.raises(errors.InvalidAmount):
        amounts.check_request(5000, True, 1000)
    with pytest.raises(errors.InvalidAmount):
        amounts.check_request(None, False, 1000)
