"""Stripe's processing fee, read from a charge's balance transaction. Pure."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fee:
    fee_minor: int  # minor units of `currency`
    currency: str  # the balance transaction's (the platform's settlement currency), not the charge's
    balance_transaction_id: str


def fee_from_balance_transaction(txn: Any) -> Fee | None:
    """The fee of an expanded balance transaction; None when `txn` is not one
    (missing, or only its id)."""
    if not isinstance(txn, dict):
        return None
    fee, currency, txn_id = txn.get("fee"), txn.get("currency"), txn.get("id")
    if not isinstance(fee, int) or isinstance(fee, bool) or fee < 0:
        raise ValueError(f"balance transaction {txn_id} has no usable fee: {fee!r}")
    if not isinstance(currency, str) or len(currency) != 3 or not isinstance(txn_id, str):
        raise ValueError(f"balance transaction {txn_id!r} has no usable currency: {currency!r}")
    return Fee(fee_minor=fee, currency=currency.upper(), balance_transaction_id=txn_id)
