"""The ledger's `stripe:balance` against Stripe's balance transactions. Pure.

Every balance transaction the ledger books names it (the entry's
`stripe_balance_transaction_id`): a charge's is booked by the payment's entry
(the price, in the charge currency) together with its settlement entry (the
conversion, if any, and the fee), a dispute's by its funds entry, a refund's
(and a refund failure's) by the refund's entry (its reversal's). For each of
Stripe's transactions of those types, what the ledger booked on `stripe:balance`
must be Stripe's `net`, in Stripe's currency, and nothing in any other currency.
Other types (transfers, payouts, Stripe's own fees) are not booked by id: they
are counted, not compared.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Stripe's balance transaction types the ledger books by id.
BOOKED_BY_ID = frozenset({
    "charge", "payment", "adjustment",
    "refund", "payment_refund", "refund_failure", "payment_failure_refund",
})


@dataclass(frozen=True)
class StripeTransaction:
    id: str
    type: str
    net_minor: int  # signed, as Stripe: what it added to (or took from) the balance
    currency: str  # ISO 4217, upper case


@dataclass(frozen=True)
class Difference:
    transaction: StripeTransaction
    booked: Mapping[str, int]  # currency -> what the ledger booked on stripe:balance for it

    def __str__(self) -> str:
        txn = self.transaction
        if not self.booked:
            return f"{txn.id} ({txn.type}): Stripe {txn.net_minor} {txn.currency}, the ledger books nothing"
        booked = ", ".join(f"{amount} {currency}" for currency, amount in sorted(self.booked.items()))
        return f"{txn.id} ({txn.type}): Stripe {txn.net_minor} {txn.currency}, the ledger {booked}"


@dataclass
class Reconciliation:
    differences: list[Difference] = field(default_factory=list)
    compared: int = 0
    not_compared: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # type -> count
    stripe_totals: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # currency -> net compared
    ledger_totals: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def reconcile(
    transactions: Iterable[StripeTransaction], booked: Mapping[str, Mapping[str, int]]
) -> Reconciliation:
    """`booked`: transaction id -> currency -> the ledger's stripe:balance postings for it."""
    result = Reconciliation()
    for txn in transactions:
        if txn.type not in BOOKED_BY_ID:
            result.not_compared[txn.type] += 1
            continue
        result.compared += 1
        in_ledger = {currency: amount for currency, amount in booked.get(txn.id, {}).items() if amount != 0}
        result.stripe_totals[txn.currency] += txn.net_minor
        for currency, amount in in_ledger.items():
            result.ledger_totals[currency] += amount
        if in_ledger != ({txn.currency: txn.net_minor} if txn.net_minor else {}) or txn.id not in booked:
            result.differences.append(Difference(txn, in_ledger))
    return result
