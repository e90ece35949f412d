"""Stripe's processing fee and the charge's settlement, read from the charge's
balance transaction, and a refund's settlement, read from the refund's (or its
failure's) balance transaction. Pure."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any


@dataclass(frozen=True)
class Fee:
    fee_minor: int  # minor units of `currency`
    currency: str  # the balance transaction's (the platform's settlement currency), not the charge's
    balance_transaction_id: str
    settled_minor: int  # the charge as booked on the balance, in `currency` (converted if it had to be)
    exchange_rate: str | None  # Stripe's rate as a decimal string; None when nothing was converted


def fee_from_balance_transaction(txn: Any) -> Fee | None:
    """The fee of an expanded balance transaction; None when `txn` is not one
    (missing, or only its id)."""
    if not isinstance(txn, dict):
        return None
    fee, currency, txn_id, amount = txn.get("fee"), txn.get("currency"), txn.get("id"), txn.get("amount")
    if not isinstance(fee, int) or isinstance(fee, bool) or fee < 0:
        raise ValueError(f"balance transaction {txn_id} has no usable fee: {fee!r}")
    if not isinstance(currency, str) or len(currency) != 3 or not isinstance(txn_id, str):
        raise ValueError(f"balance transaction {txn_id!r} has no usable currency: {currency!r}")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ValueError(f"balance transaction {txn_id} has no usable amount: {amount!r}")
    return Fee(
        fee_minor=fee, currency=currency.upper(), balance_transaction_id=txn_id, settled_minor=amount,
        exchange_rate=exchange_rate(txn.get("exchange_rate"), txn_id),
    )


@dataclass(frozen=True)
class RefundSettlement:
    balance_transaction_id: str
    settled_minor: int  # the refund as booked on the balance, in `currency`, without Stripe's sign
    currency: str  # the balance transaction's (the platform's settlement currency)
    exchange_rate: str | None  # Stripe's rate as a decimal string; None when nothing was converted


def refund_settlement_from_balance_transaction(txn: Any) -> RefundSettlement | None:
    """The settlement of an expanded refund (or refund failure) balance
    transaction; None when `txn` is not one (missing, or only its id). Stripe
    signs the amount by direction (a refund's is negative, its failure's
    positive); the direction is the event's, so only the size is kept."""
    if not isinstance(txn, dict):
        return None
    currency, txn_id, amount = txn.get("currency"), txn.get("id"), txn.get("amount")
    if not isinstance(currency, str) or len(currency) != 3 or not isinstance(txn_id, str):
        raise ValueError(f"balance transaction {txn_id!r} has no usable currency: {currency!r}")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise ValueError(f"balance transaction {txn_id} has no usable amount: {amount!r}")
    return RefundSettlement(
        balance_transaction_id=txn_id, settled_minor=abs(amount), currency=currency.upper(),
        exchange_rate=exchange_rate(txn.get("exchange_rate"), txn_id),
    )


def exchange_rate(rate: Any, txn_id: Any) -> str | None:
    """Stripe's `exchange_rate` (a JSON number) as a plain decimal string, never
    a float on our wire; None when Stripe converted nothing."""
    if rate is None:
        return None
    try:
        value = Decimal(str(rate))
    except InvalidOperation as error:
        raise ValueError(f"balance transaction {txn_id} has no usable exchange_rate: {rate!r}") from error
    if isinstance(rate, bool) or not value.is_finite() or value <= 0:
        raise ValueError(f"balance transaction {txn_id} has no usable exchange_rate: {rate!r}")
    return format(value, "f")
