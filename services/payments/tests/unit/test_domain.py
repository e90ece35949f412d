import pytest

from payments.domain.payments import (
    MAX_PRICE_MINOR,
    InvalidAmount,
    PaymentStatus,
    UnsupportedCurrency,
    check_price,
    should_transition,
)

PENDING, SUCCEEDED, FAILED = PaymentStatus.PENDING, PaymentStatus.SUCCEEDED, PaymentStatus.FAILED


@pytest.mark.parametrize(
    ("current", "target"),
    [(PENDING, SUCCEEDED), (PENDING, FAILED), (FAILED, SUCCEEDED)],
)
def test_a_payment_moves_forward(current, target):
    assert should_transition(current, target)


def test_a_failure_after_success_is_stale():
    assert not should_transition(SUCCEEDED, FAILED)


@pytest.mark.parametrize("status", list(PaymentStatus))
def test_the_same_news_twice_is_a_duplicate(status):
    assert not should_transition(status, status)


@pytest.mark.parametrize("status", list(PaymentStatus))
def test_nothing_goes_back_to_pending(status):
    assert not should_transition(status, PENDING)


@pytest.mark.parametrize(("price", "currency"), [(50, "EUR"), (30, "GBP"), (MAX_PRICE_MINOR, "USD"), (999, "CHF")])
def test_prices_within_bounds_are_accepted(price, currency):
    check_price(price, currency)


@pytest.mark.parametrize(("price", "currency"), [(49, "EUR"), (29, "GBP"), (0, "USD"), (MAX_PRICE_MINOR + 1, "EUR")])
def test_prices_out_of_bounds_are_refused(price, currency):
    with pytest.raises(InvalidAmount):
        check_price(price, currency)


@pytest.mark.parametrize("currency", ["JPY", "eur", "XXX", ""])
def test_unsupported_currencies_are_refused(currency):
    with pytest.raises(UnsupportedCurrency):
        check_price(1000, currency)


@pytest.mark.parametrize("price", [100.0, "100", True])
def test_a_price_that_is_not_an_integer_is_refused(price):
    with pytest.raises(InvalidAmount):
        check_price(price, "EUR")
