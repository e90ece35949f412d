import pytest

from payments.domain.fees import Fee, fee_from_balance_transaction


def test_the_fee_is_in_the_balance_transactions_currency():
    txn = {"id": "txn_1", "object": "balance_transaction", "amount": 10_000, "currency": "usd", "fee": 175}
    assert fee_from_balance_transaction(txn) == Fee(
        fee_minor=175, currency="USD", balance_transaction_id="txn_1", settled_minor=10_000, exchange_rate=None
    )


@pytest.mark.parametrize("rate, as_text", [(1.234, "1.234"), (0.92, "0.92"), (1e-05, "0.00001"), (2, "2")])
def test_a_converted_charge_carries_its_settled_amount_and_stripes_rate_as_a_decimal_string(rate, as_text):
    # 100.00 EUR charged, booked as 123.40 USD on a balance settled in USD
    txn = {"id": "txn_1", "amount": 12_340, "currency": "usd", "fee": 388, "exchange_rate": rate}
    fee = fee_from_balance_transaction(txn)
    assert (fee.settled_minor, fee.currency, fee.exchange_rate) == (12_340, "USD", as_text)


@pytest.mark.parametrize("txn", [None, "txn_1"])
def test_an_unexpanded_balance_transaction_has_no_fee_yet(txn):
    assert fee_from_balance_transaction(txn) is None


@pytest.mark.parametrize(
    "txn",
    [
        {"id": "txn_1", "currency": "eur", "fee": -1},
        {"id": "txn_1", "currency": "eur", "fee": 1.75},
        {"id": "txn_1", "currency": "eur"},
        {"id": "txn_1", "currency": None, "fee": 175},
        {"currency": "eur", "fee": 175},
        {"id": "txn_1", "currency": "eur", "fee": 175, "amount": None},
        {"id": "txn_1", "currency": "eur", "fee": 175, "amount": 100, "exchange_rate": "n/a"},
        {"id": "txn_1", "currency": "eur", "fee": 175, "amount": 100, "exchange_rate": -1.2},
    ],
)
def test_a_balance_transaction_without_a_usable_fee_amount_or_rate_is_refused(txn):
    with pytest.raises(ValueError):
        fee_from_balance_transaction(txn)
