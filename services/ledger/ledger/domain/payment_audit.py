"""What the journal says about each payment and each dispute, checked. Pure.

Entries carry the facts they book (ledger.domain.chain.EntryFacts): the payment they
belong to, the dispute, the amount of the fact (price, refund, disputed amount
lost) and the Stripe balance transaction. From those alone this recomputes:

* per payment: what its entries took back from the creator (`available` and
  `debt` postings; a frozen dispute share sits in `disputed` and is not taken
  yet) never exceeds the share, and what the creator still holds of it equals
  `creator_entitlement` (ledger.domain.entitlement) at the totals its entries record;
* per Stripe balance transaction: posted by one entry only;
* per dispute: once closed, the disputed funds it booked net to zero in every
  currency (withdrawn = reinstated + lost); while open, what is withdrawn is
  between 0 and the disputed amount. A balance transaction missing or posted
  twice shows here even without its id.

Entries posted before the facts were recorded (NULL payment_id) are not counted.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from ledger import domain
from ledger.domain.chain import EntryFacts
from ledger.domain.entitlement import PaymentTotals, creator_entitlement

CREATOR_TAKING_BUCKETS = ("available", "debt")  # what the creator holds or owes; `disputed` is frozen, not taken


@dataclass
class _Payment:
    currency: str | None = None
    price: int | None = None  # None until its payment entry is seen
    share: int = 0
    held: int = 0  # what the creator holds of it: -(available + debt) over its entries
    refunded: int = 0
    disputes: dict[str, int] = field(default_factory=dict)  # dispute id -> disputed amount taken (open or lost)


@dataclass
class _Dispute:
    closed: bool = False
    amount: int | None = None  # disputed, from its opening
    funds: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # currency -> stripe:disputed_funds


@dataclass
class PaymentAudit:
    _payments: dict[str, _Payment] = field(default_factory=lambda: defaultdict(_Payment))
    _disputes: dict[str, _Dispute] = field(default_factory=lambda: defaultdict(_Dispute))
    _transactions: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # txn -> entry ids

    def add(self, entry_id: str, kind: str, creator_id: str | None, postings: tuple[domain.Posting, ...],
            facts: EntryFacts) -> None:
        if facts.stripe_balance_transaction_id is not None:
            self._transactions[facts.stripe_balance_transaction_id].append(entry_id)
        if facts.dispute_id is not None:
            self._add_to_dispute(kind, postings, facts)
        if facts.payment_id is None:
            return
        payment = self._payments[facts.payment_id]
        if creator_id is not None:
            taking = {domain.creator_account(creator_id, bucket) for bucket in CREATOR_TAKING_BUCKETS}
            payment.held -= sum(p.amount_minor for p in postings if p.account in taking)
        amount = facts.fact_amount_minor or 0
        if kind == "payment":
            available = domain.creator_account(creator_id or "", "available")
            payment.price, payment.currency = amount, postings[0].currency
            payment.share = -sum(p.amount_minor for p in postings if p.account == available)
        elif kind == "refund":
            payment.refunded += amount
        elif kind == "refund_reversal":
            payment.refunded -= amount
        elif kind in ("dispute_opened", "dispute_closed") and facts.dispute_id is not None:
            if kind == "dispute_closed" or facts.dispute_id not in payment.disputes:
                payment.disputes[facts.dispute_id] = amount  # a close says what is lost for good (0 when won)

    def _add_to_dispute(self, kind: str, postings: tuple[domain.Posting, ...], facts: EntryFacts) -> None:
        dispute = self._disputes[facts.dispute_id]  # type: ignore[index] - checked by the caller
        if kind == "dispute_opened":
            dispute.amount = facts.fact_amount_minor
        if kind == "dispute_closed":
            dispute.closed = True
        for posting in postings:
            if posting.account == domain.STRIPE_DISPUTED_FUNDS:
                dispute.funds[posting.currency] += posting.amount_minor

    def problems(self) -> list[str]:
        found = [
            f"balance transaction {txn} posted by {len(entries)} entries: {', '.join(entries)}"
            for txn, entries in sorted(self._transactions.items())
            if len(entries) > 1
        ]
        for payment_id, payment in sorted(self._payments.items()):
            if payment.price is None:
                continue  # its payment entry predates the recorded facts (or is not posted yet)
            taken_back = payment.share - payment.held
            disputed = sum(payment.disputes.values())
            if min(payment.refunded, disputed) < 0 or payment.share > payment.price:
                found.append(f"payment {payment_id}: impossible totals (price {payment.price}, share "
                             f"{payment.share}, refunded {payment.refunded}, disputed {disputed})")
                continue
            # Open and lost disputes both take from the entitlement (the frozen share is in `disputed`).
            owed = creator_entitlement(PaymentTotals(payment.price, payment.share, refunded_minor=payment.refunded,
                                                     disputed_lost_minor=disputed))
            if taken_back > payment.share:
                found.append(
                    f"payment {payment_id}: clawbacks of {taken_back} {payment.currency} exceed the share "
                    f"{payment.share}"
                )
            elif payment.held != owed:
                found.append(
                    f"payment {payment_id}: the creator holds {payment.held} {payment.currency} of it, its "
                    f"entitlement is {owed} (price {payment.price}, refunded {payment.refunded}, "
                    f"disputed {disputed})"
                )
        for dispute_id, dispute in sorted(self._disputes.items()):
            for currency, withdrawn in sorted(dispute.funds.items()):
                if dispute.closed and withdrawn != 0:
                    found.append(
                        f"dispute {dispute_id}: closed with {withdrawn} {currency} of disputed funds still booked "
                        "(a balance transaction missing or posted twice)"
                    )
                elif not dispute.closed and not 0 <= withdrawn <= (dispute.amount or withdrawn):
                    found.append(
                        f"dispute {dispute_id}: {withdrawn} {currency} of disputed funds booked for a disputed "
                        f"amount of {dispute.amount} (a balance transaction missing or posted twice)"
                    )
        return found

    @property
    def payments(self) -> int:
        return sum(1 for payment in self._payments.values() if payment.price is not None)

    @property
    def disputes(self) -> int:
        return len(self._disputes)
