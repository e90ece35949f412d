"""What the creator is owed on one payment: one pure function of the payment's
totals, so that any order of the same facts ends at the same balance, to the unit.

A payment of `price` with the creator's `share` has had `taken` of its price
taken back from the fan's side: succeeded refunds (not failed since), open
disputes' amounts and lost disputes' amounts, capped at the price (events read
out of order can add up to more for a while: a refund that failed later and
the dispute that followed it). The creator is entitled to

    creator_entitlement = share - floor(share * taken / price)

and, while disputes are open, part of the share is frozen rather than gone:

    frozen_share = creator_entitlement(without the open disputes) - creator_entitlement

Every movement (refund, refund failed, dispute opened, won or lost) posts the
difference of both between the totals before and after it: the entitlement's
to `available` (or debt), the frozen share's to `disputed`, the rounding to
the platform. The postings of a payment therefore add up to the value at its
final totals, whatever order the movements came in. No I/O here.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace

from ledger.domain import InvalidAmounts

# What a refund or a dispute of a payment is to its totals (payment_takebacks.kind / status).
REFUND = "refund"
DISPUTE = "dispute"
REFUNDED = "REFUNDED"  # a succeeded refund: counts in refunded_minor
REFUND_FAILED = "FAILED"  # failed after succeeding: counts no more
DISPUTE_OPEN = "OPEN"  # counts in disputed_open_minor: its share of the creator is frozen
DISPUTE_WON = "WON"  # counts no more
DISPUTE_LOST = "LOST"  # counts in disputed_lost_minor
TAKEBACK_STATUSES = {REFUND: (REFUNDED, REFUND_FAILED), DISPUTE: (DISPUTE_OPEN, DISPUTE_WON, DISPUTE_LOST)}


@dataclass(frozen=True)
class PaymentTotals:
    """A payment's facts, in minor units of its currency."""

    price_minor: int
    creator_share_minor: int
    refunded_minor: int = 0  # succeeded refunds, not failed since
    disputed_open_minor: int = 0  # disputed amounts of open disputes
    disputed_lost_minor: int = 0  # disputed amounts of lost (or accepted) disputes

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidAmounts(f"{name} must be a non-negative integer in minor units, not {value!r}")
        if self.creator_share_minor > self.price_minor:
            raise InvalidAmounts(f"share {self.creator_share_minor} is more than the price {self.price_minor}")

    @property
    def taken_minor(self) -> int:
        """What went back to the fan's side, at most the price."""
        taken = self.refunded_minor + self.disputed_open_minor + self.disputed_lost_minor
        return min(taken, self.price_minor)


def creator_entitlement(totals: PaymentTotals) -> int:
    """What the creator keeps of the payment: share - floor(share * taken / price)."""
    if totals.price_minor == 0:
        return 0
    return totals.creator_share_minor - totals.creator_share_minor * totals.taken_minor // totals.price_minor


def frozen_share(totals: PaymentTotals) -> int:
    """The part of the share the open disputes hold frozen (lost if they are lost)."""
    return creator_entitlement(replace(totals, disputed_open_minor=0)) - creator_entitlement(totals)


@dataclass(frozen=True)
class EntitlementChange:
    """One movement's effect on the creator, in minor units."""

    entitled_minor: int  # entitlement after - before: negative is taken from the creator
    frozen_minor: int  # frozen share after - before: positive freezes more


def entitlement_change(before: PaymentTotals, after: PaymentTotals) -> EntitlementChange:
    return EntitlementChange(
        entitled_minor=creator_entitlement(after) - creator_entitlement(before),
        frozen_minor=frozen_share(after) - frozen_share(before),
    )


@dataclass(frozen=True)
class Takeback:
    """A refund or a dispute of the payment as the totals count it."""

    kind: str  # REFUND | DISPUTE
    status: str  # one of TAKEBACK_STATUSES[kind]
    amount_minor: int  # refunded, or disputed


def payment_totals(price_minor: int, creator_share_minor: int, takebacks: Iterable[Takeback]) -> PaymentTotals:
    """The totals of a payment from its refunds and disputes, whatever their order."""
    sums = {REFUNDED: 0, DISPUTE_OPEN: 0, DISPUTE_LOST: 0}
    for takeback in takebacks:
        if takeback.status not in TAKEBACK_STATUSES.get(takeback.kind, ()):
            raise InvalidAmounts(f"a {takeback.kind} cannot be {takeback.status}")
        if takeback.status in sums:
            sums[takeback.status] += takeback.amount_minor
    return PaymentTotals(
        price_minor, creator_share_minor,
        refunded_minor=sums[REFUNDED], disputed_open_minor=sums[DISPUTE_OPEN], disputed_lost_minor=sums[DISPUTE_LOST],
    )
