import pytest

from payments.fees import Fee, fee_from_balance_transaction


def test_the_fee_is_in_the_balance_transactions_currency():
    txn = {"id": "txn_1", "object": "balance_transaction", "amount": 10_000, "currency": "usd", "fee": 175}
    assert fee_from_balance_transaction(txn) == Fee(fee_minor=175, currency="USD", balance_transaction_id="txn_1")


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
    ],
)
def test_a_balance_transaction_without_a_usable_fee_is_refused(txn):
    with pytest.raises(ValueError):
        fee_from_balance_transaction(txn)
