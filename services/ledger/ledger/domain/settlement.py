"""Charge currency vs settlement currency. Pure.

A fan pays in the charge's currency; Stripe books the money on the platform's
balance in its settlement currency, converted at the rate it reports on the
balance transaction (`amount` there is already converted; fees are in that
currency too). Creator balances stay in the charge currency. So that every
currency balances on its own, a conversion goes through `stripe:conversion`:
the charge side leaves its account in the charge currency, the settlement side
arrives in the settlement currency, each at the amount Stripe reports. What
`stripe:conversion` holds per currency is what was converted (its difference
across currencies is the exchange, gains and losses included).

When both sides are in one currency nothing is converted and the postings are
the plain ones of ledger.domain.
"""

from dataclasses import dataclass

from ledger import domain
from ledger.domain import Posting


@dataclass(frozen=True)
class Settled:
    """One amount as the charge (or dispute) states it and as Stripe booked it."""

    charge_minor: int  # minor units of charge_currency
    charge_currency: str
    settled_minor: int  # minor units of settled_currency, as the balance transaction reports
    settled_currency: str

    @property
    def converted(self) -> bool:
        return self.charge_currency != self.settled_currency

    def check(self) -> None:
        # In one currency the amounts are not compared: the payment's entry booked
        # the price; a balance transaction saying otherwise is for `reconcile` to show.
        if min(self.charge_minor, self.settled_minor) < 0:
            raise domain.InvalidAmounts(f"negative settlement {self}")


def _converted(source: str, source_minor: int, source_currency: str,
               target: str, target_minor: int, target_currency: str) -> list[Posting]:
    """Money leaves `source` in one currency and lands on `target` in another."""
    return [
        Posting(source, -source_minor, source_currency),
        Posting(domain.STRIPE_CONVERSION, source_minor, source_currency),
        Posting(domain.STRIPE_CONVERSION, -target_minor, target_currency),
        Posting(target, target_minor, target_currency),
    ]


def charge_settled_postings(settled: Settled, fee: int) -> list[Posting]:
    """The charge's balance transaction: the price (booked on `stripe:balance` in
    the charge currency by the payment's entry) converted into the settlement
    currency, and Stripe's fee, in the settlement currency, the platform's expense."""
    settled.check()
    if not settled.converted:
        return domain.fee_postings(fee, settled.settled_currency)
    postings = [
        *_converted(domain.STRIPE_BALANCE, settled.charge_minor, settled.charge_currency,
                    domain.STRIPE_BALANCE, settled.settled_minor, settled.settled_currency),
        *domain.fee_postings(fee, settled.settled_currency),
    ]
    domain.check_balanced(postings)
    return postings


def dispute_withdrawn_postings(settled: Settled, fee: int) -> list[Posting]:
    """The network takes the disputed amount from the balance (settlement
    currency); it is held as disputed funds in the dispute's (charge) currency,
    which is what a lost dispute writes off and a won one gets back."""
    settled.check()
    if not settled.converted:
        return domain.dispute_funds_withdrawn_postings(settled.settled_minor, fee, settled.settled_currency)
    return _non_zero([
        Posting(domain.STRIPE_BALANCE, -fee, settled.settled_currency),
        Posting(domain.PLATFORM_DISPUTE_FEES, fee, settled.settled_currency),
        *_converted(domain.STRIPE_BALANCE, settled.settled_minor, settled.settled_currency,
                    domain.STRIPE_DISPUTED_FUNDS, settled.charge_minor, settled.charge_currency),
    ])


def dispute_reinstated_postings(settled: Settled, fee: int) -> list[Posting]:
    """The disputed amount comes back (converted again, at that day's rate), and
    the dispute fee Stripe gives back, if any."""
    settled.check()
    if not settled.converted:
        return domain.dispute_funds_reinstated_postings(settled.settled_minor, fee, settled.settled_currency)
    return _non_zero([
        Posting(domain.STRIPE_BALANCE, fee, settled.settled_currency),
        Posting(domain.PLATFORM_DISPUTE_FEES, -fee, settled.settled_currency),
        *_converted(domain.STRIPE_DISPUTED_FUNDS, settled.charge_minor, settled.charge_currency,
                    domain.STRIPE_BALANCE, settled.settled_minor, settled.settled_currency),
    ])


def refund_stripe_side(settled: Settled) -> list[Posting]:
    """What a refund takes from the balance: the fan gets the refund in the
    charge currency; Stripe pays it from the balance in the settlement currency,
    converted at the rate it reports on the refund's balance transaction."""
    return _refund_stripe_side(settled, sign=-1)


def refund_failure_stripe_side(settled: Settled) -> list[Posting]:
    """A refund that failed after succeeding: the refund comes back to the
    balance, converted again (the failure's own balance transaction, at its rate)."""
    return _refund_stripe_side(settled, sign=1)


def _refund_stripe_side(settled: Settled, *, sign: int) -> list[Posting]:
    settled.check()
    if not settled.converted:
        return [Posting(domain.STRIPE_BALANCE, sign * settled.charge_minor, settled.charge_currency)]
    return [
        Posting(domain.STRIPE_CONVERSION, sign * settled.charge_minor, settled.charge_currency),
        Posting(domain.STRIPE_CONVERSION, -sign * settled.settled_minor, settled.settled_currency),
        Posting(domain.STRIPE_BALANCE, sign * settled.settled_minor, settled.settled_currency),
    ]


def _non_zero(postings: list[Posting]) -> list[Posting]:
    """A counter fee moves no disputed money: drop its zero postings, keep the entry."""
    domain.check_balanced(postings)
    return [p for p in postings if p.amount_minor != 0] or postings
