"""The ledger's pure rules: accounts, balanced entries, balances from postings.

Stored postings are signed: a debit is positive, a credit negative, and every
entry sums to zero per currency. Creator accounts are liabilities of the
platform (credit-normal), so what a creator is owed is the negated sum.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

STRIPE_BALANCE = "stripe:balance"
PLATFORM_REVENUE = "platform:revenue"
PLATFORM_PROCESSING_FEES = "platform:processing_fees"
PLATFORM_DISPUTE_FEES = "platform:dispute_fees"

CREATOR_BUCKETS = ("available", "disputed", "reserved", "debt")


def creator_account(creator_id: str, bucket: str) -> str:
    if bucket not in CREATOR_BUCKETS:
        raise ValueError(f"unknown creator bucket {bucket!r}")
    return f"creator:{creator_id}:{bucket}"


class LedgerError(Exception):
    """Base of the ledger's domain errors."""


class UnbalancedEntry(LedgerError):
    pass


@dataclass(frozen=True)
class Posting:
    account: str
    amount_minor: int  # debit > 0, credit < 0
    currency: str


def check_balanced(postings: Iterable[Posting]) -> None:
    """Raise unless the postings sum to zero in every currency."""
    totals: dict[str, int] = defaultdict(int)
    count = 0
    for posting in postings:
        if not isinstance(posting.amount_minor, int):
            raise UnbalancedEntry(f"amount of {posting.account} is not an integer")
        totals[posting.currency] += posting.amount_minor
        count += 1
    if count == 0:
        raise UnbalancedEntry("an entry needs postings")
    off = {currency: total for currency, total in totals.items() if total != 0}
    if off:
        raise UnbalancedEntry(f"entry does not balance: {off}")


def payment_postings(creator_id: str, price: int, creator_share: int, currency: str) -> list[Posting]:
    """The fan's money lands at Stripe; the creator is owed their share, the
    platform keeps the rest."""
    postings = [
        Posting(STRIPE_BALANCE, price, currency),
        Posting(creator_account(creator_id, "available"), -creator_share, currency),
        Posting(PLATFORM_REVENUE, creator_share - price, currency),
    ]
    check_balanced(postings)
    return postings


def fee_postings(fee: int, currency: str) -> list[Posting]:
    """Stripe's processing fee is the platform's expense, never the creator's."""
    postings = [
        Posting(PLATFORM_PROCESSING_FEES, fee, currency),
        Posting(STRIPE_BALANCE, -fee, currency),
    ]
    check_balanced(postings)
    return postings


@dataclass(frozen=True)
class CreatorBalance:
    """What a creator sees, in minor units: owed to them (available, disputed,
    reserved) and owed by them (debt), all non-negative in normal operation."""

    currency: str
    available_minor: int = 0
    disputed_minor: int = 0
    reserved_minor: int = 0
    debt_minor: int = 0


def creator_balance(creator_id: str, currency: str, sums: dict[str, int]) -> CreatorBalance:
    """From the signed posting sums per account to the creator's view."""

    def owed(bucket: str) -> int:
        return -sums.get(creator_account(creator_id, bucket), 0)

    return CreatorBalance(
        currency=currency,
        available_minor=owed("available"),
        disputed_minor=owed("disputed"),
        reserved_minor=owed("reserved"),
        # debt is an asset of the platform (debit-normal): positive sum = owed by creator
        debt_minor=sums.get(creator_account(creator_id, "debt"), 0),
    )
