"""Refunds and disputes of payments, decided a batch at a time. Pure.

The handlers read what a batch needs into `Books` (the payments' terms and
takebacks, the entries already posted, the refunds' debts, the creators'
balance rows); these rules decide each event in delivery order and fold its
effect into the books before the next one is decided. Two refunds of one
payment, or of one creator, in a batch therefore give what they give applied
one after the other: the second sees the payment's totals and the `available`
the first left.

What a movement moves for the creator is never taken from the event: it is
the difference of the creator's entitlement on the payment before and after it
(ledger.domain.entitlement), taken from `available` (a shortfall becomes debt) or
given back, so any order of the same facts ends at the same balance. Payments'
own figures (`creator_clawback_minor`, `creator_share_minor`) are what it saw in
its order; the ledger's are the same once every fact is in.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ledger import domain
from ledger.domain import CreatorBalance, InvalidAmounts, Posting, StoredDebt, entitlement, settlement
from ledger.domain.chain import EntryFacts

# Journal entry kinds: the payment a takeback builds on, and each takeback's own
# two entries (posted at most once per refund or dispute, reference refund:<id> | dispute:<id>).
PAYMENT = "payment"
REFUND = "refund"
REFUND_REVERSAL = "refund_reversal"
DISPUTE_OPENED = "dispute_opened"
DISPUTE_CLOSED = "dispute_closed"
ENTRY_KINDS = {entitlement.REFUND: (REFUND, REFUND_REVERSAL), entitlement.DISPUTE: (DISPUTE_OPENED, DISPUTE_CLOSED)}


class Unposted(Exception):
    """The event at `position` builds on an entry (`kind`, `reference`) not in
    the journal yet: it waits parked for it, and the batch is decided again without it."""

    def __init__(self, position: int, kind: str, reference: str) -> None:
        super().__init__(f"event {position} waits for the {kind} entry {reference}")
        self.position = position
        self.kind = kind
        self.reference = reference


@dataclass(frozen=True)
class About:
    """What an event says about one refund or dispute of a payment."""

    payment_id: str
    creator_id: str
    currency: str

    @property
    def payment_reference(self) -> str:
        return f"payment:{self.payment_id}"


@dataclass(frozen=True)
class Refund(About):
    refund_id: str
    amount_minor: int  # given back to the fan (or, failed, back from the fan)
    settled: settlement.Settled  # how the Stripe balance paid it (or got it back)
    balance_transaction_id: str | None

    kind = entitlement.REFUND

    @property
    def takeback_id(self) -> str:
        return self.refund_id

    @property
    def reference(self) -> str:
        return f"refund:{self.refund_id}"


@dataclass(frozen=True)
class Dispute(About):
    dispute_id: str
    amount_minor: int  # disputed (an opening); a close counts the amount its opening counted

    kind = entitlement.DISPUTE

    @property
    def takeback_id(self) -> str:
        return self.dispute_id

    @property
    def reference(self) -> str:
        return f"dispute:{self.dispute_id}"


@dataclass(frozen=True)
class DisputeClose(Dispute):
    won: bool  # else lost (or accepted)


def entries_asked(about: Refund | Dispute) -> list[tuple[str, str]]:
    """The entries whose presence a movement's rules read: its payment's and its own."""
    return [(PAYMENT, about.payment_reference), *((kind, about.reference) for kind in ENTRY_KINDS[about.kind])]


@dataclass(frozen=True)
class Terms:
    """A payment's terms (models.PaymentTerms)."""

    creator_id: str
    currency: str
    price_minor: int
    creator_share_minor: int


@dataclass(frozen=True)
class Takeback:
    """A refund or dispute as payment_takebacks holds it."""

    payment_id: str
    kind: str  # entitlement.REFUND | entitlement.DISPUTE
    amount_minor: int  # refunded, or disputed
    status: str  # entitlement.TAKEBACK_STATUSES[kind]


@dataclass
class Books:
    """The rows a batch read, each decision folded in before the next is decided."""

    posted: set[tuple[str, str]]  # (kind, reference) of the asked-about entries in the journal
    terms: dict[str, Terms]  # by payment id
    takebacks: dict[str, Takeback]  # by reference, those of the batch's payments and references
    refund_debts: dict[str, StoredDebt]  # by refund id: the debt its shortfall opened
    sums: dict[str, dict[str, int]]  # currency -> account -> signed sum, the batch's creators' accounts


@dataclass(frozen=True)
class OpenedDebt:
    """A shortfall, owed as a new debt of its cause."""

    cause_type: str  # refund | dispute
    cause_id: str
    amount_minor: int


@dataclass(frozen=True)
class Entry:
    """The creator's entry one movement posts, and what it leaves."""

    kind: str
    reference: str
    creator_id: str
    currency: str
    postings: list[Posting]
    facts: EntryFacts
    balance: CreatorBalance  # the creator's, once the entry is posted
    opened_debt: OpenedDebt | None = None
    reversed_debt: StoredDebt | None = None  # the refund's debt as its failure leaves it


@dataclass(frozen=True)
class Movement:
    reference: str
    takeback: Takeback  # as the movement leaves it: added, or at its new status
    # None only for a takeback whose entry was posted before takebacks were
    # counted (ledger migration 0005): announced again, it is counted, and posts nothing.
    entry: Entry | None


def refunds_created(books: Books, refunds: Sequence[Refund]) -> list[Movement | None]:
    """Each refund, or None when it was announced before."""
    return [_refund_created(books, position, refund) for position, refund in enumerate(refunds)]


def refunds_failed(books: Books, refunds: Sequence[Refund | None]) -> list[Movement | None]:
    """Each failure of a succeeded refund (None: it failed before succeeding,
    nothing was posted), or None when it was announced before."""
    return [None if refund is None else _refund_failed(books, position, refund)
            for position, refund in enumerate(refunds)]


def disputes_opened(books: Books, disputes: Sequence[Dispute]) -> list[Movement | None]:
    """Each dispute, or None when it was announced before."""
    return [_dispute_opened(books, position, dispute) for position, dispute in enumerate(disputes)]


def disputes_closed(books: Books, closes: Sequence[DisputeClose]) -> list[Movement | None]:
    """Each close, or None when the dispute was closed before."""
    return [_dispute_closed(books, position, close) for position, close in enumerate(closes)]


def _refund_created(books: Books, position: int, refund: Refund) -> Movement | None:
    return _opened(
        books, position, refund, REFUND, entitlement.REFUNDED,
        lambda totals: replace(totals, refunded_minor=totals.refunded_minor + refund.amount_minor),
        lambda change, available: domain.refund_postings(
            refund.creator_id, refund.amount_minor, change.entitled_minor, change.frozen_minor, available,
            refund.currency, stripe_side=settlement.refund_stripe_side(refund.settled),
        ),
        EntryFacts(payment_id=refund.payment_id, fact_amount_minor=refund.amount_minor,
                   stripe_balance_transaction_id=refund.balance_transaction_id),
    )


def _dispute_opened(books: Books, position: int, dispute: Dispute) -> Movement | None:
    return _opened(
        books, position, dispute, DISPUTE_OPENED, entitlement.DISPUTE_OPEN,
        lambda totals: replace(totals, disputed_open_minor=totals.disputed_open_minor + dispute.amount_minor),
        lambda change, available: domain.dispute_opened_postings(
            dispute.creator_id, change.entitled_minor, change.frozen_minor, available, dispute.currency),
        EntryFacts(payment_id=dispute.payment_id, dispute_id=dispute.dispute_id,
                   fact_amount_minor=dispute.amount_minor),
    )


def _opened(
    books: Books, position: int, about: Refund | Dispute, kind: str, status: str,
    counted: Callable[[entitlement.PaymentTotals], entitlement.PaymentTotals],
    postings_of: Callable[[entitlement.EntitlementChange, int], list[Posting]],
    facts: EntryFacts,
) -> Movement | None:
    """A refund or a dispute counted in its payment's totals (`counted`: the
    totals with it), its `kind` of entry taking what the entitlement loses
    (`postings_of(change, available)`); a shortfall opens a debt."""
    _require(books, position, PAYMENT, about.payment_reference)
    if about.reference in books.takebacks:
        return None  # the same refund or dispute announced twice
    before = _totals(books, about)
    postings = postings_of(entitlement.entitlement_change(before, counted(before)), _available(books, about))
    takeback = books.takebacks[about.reference] = Takeback(about.payment_id, about.kind, about.amount_minor, status)
    if (kind, about.reference) in books.posted:
        return Movement(about.reference, takeback, None)
    return Movement(about.reference, takeback, _post(books, kind, about, postings, facts, opens_debt=True))


def _refund_failed(books: Books, position: int, refund: Refund) -> Movement | None:
    counted = _still(books, position, refund, REFUND, entitlement.REFUNDED)
    if counted is None:
        return None  # the same failure announced twice
    before = _totals(books, refund)
    change = entitlement.entitlement_change(
        before, replace(before, refunded_minor=before.refunded_minor - counted.amount_minor))
    debt = books.refund_debts.get(refund.refund_id)
    postings = domain.refund_reversal_postings(
        refund.creator_id, counted.amount_minor, change.entitled_minor, change.frozen_minor,
        debt.amounts.remaining_minor if debt else 0, refund.currency,
        stripe_side=settlement.refund_failure_stripe_side(refund.settled),
    )
    if (REFUND_REVERSAL, refund.reference) in books.posted:
        return None
    takeback = books.takebacks[refund.reference] = replace(counted, status=entitlement.REFUND_FAILED)
    reversed_debt = None
    if debt is not None:
        cancelled = -domain.debt_posted(refund.creator_id, postings)
        reversed_debt = replace(debt, amounts=debt.amounts.reversed(cancelled))
        books.refund_debts[refund.refund_id] = reversed_debt
    facts = EntryFacts(payment_id=refund.payment_id, fact_amount_minor=refund.amount_minor,
                       stripe_balance_transaction_id=refund.balance_transaction_id)
    entry = _post(books, REFUND_REVERSAL, refund, postings, facts)
    return Movement(refund.reference, takeback, replace(entry, reversed_debt=reversed_debt))


def _dispute_closed(books: Books, position: int, dispute: DisputeClose) -> Movement | None:
    counted = _still(books, position, dispute, DISPUTE_OPENED, entitlement.DISPUTE_OPEN)
    if counted is None:
        return None  # one close per dispute: won or lost, never both
    # The amount is the one the opening counted, whatever the closing event says.
    disputed = counted.amount_minor
    before = _totals(books, dispute)
    if dispute.won:
        change = entitlement.entitlement_change(
            before, replace(before, disputed_open_minor=before.disputed_open_minor - disputed))
        postings = domain.dispute_won_postings(
            dispute.creator_id, change.entitled_minor, change.frozen_minor, dispute.currency)
    else:
        change = entitlement.entitlement_change(before, replace(
            before, disputed_open_minor=before.disputed_open_minor - disputed,
            disputed_lost_minor=before.disputed_lost_minor + disputed))
        postings = domain.dispute_lost_postings(
            dispute.creator_id, disputed, change.entitled_minor, change.frozen_minor, dispute.currency)
    if (DISPUTE_CLOSED, dispute.reference) in books.posted:
        return None
    status = entitlement.DISPUTE_WON if dispute.won else entitlement.DISPUTE_LOST
    takeback = books.takebacks[dispute.reference] = replace(counted, status=status)
    # The disputed amount the payment loses for good: none when won.
    facts = EntryFacts(payment_id=dispute.payment_id, dispute_id=dispute.dispute_id,
                       fact_amount_minor=0 if dispute.won else disputed)
    return Movement(dispute.reference, takeback, _post(books, DISPUTE_CLOSED, dispute, postings, facts))


def _still(books: Books, position: int, about: Refund | Dispute, opened_kind: str, status: str) -> Takeback | None:
    """The refund or dispute a failure or a close is about, if it is still at
    `status` (its opening entry posted and counted), else None."""
    _require(books, position, opened_kind, about.reference)
    counted = books.takebacks.get(about.reference)
    if counted is None:
        raise InvalidAmounts(f"{about.kind} {about.takeback_id} is posted but not counted (posted before takebacks)")
    return counted if counted.status == status else None


def _require(books: Books, position: int, kind: str, reference: str) -> None:
    if (kind, reference) not in books.posted:
        raise Unposted(position, kind, reference)


def _totals(books: Books, about: About) -> entitlement.PaymentTotals:
    """The payment's totals as the movements before this one left them."""
    terms = books.terms.get(about.payment_id)
    if terms is None:
        raise InvalidAmounts(f"payment {about.payment_id} is posted but has no terms (posted before they existed)")
    if (terms.creator_id, terms.currency) != (about.creator_id, about.currency):
        raise InvalidAmounts(f"payment {about.payment_id} is {terms.creator_id}'s in {terms.currency},"
                             f" not {about.creator_id}'s in {about.currency}")
    return entitlement.payment_totals(terms.price_minor, terms.creator_share_minor, [
        entitlement.Takeback(t.kind, t.status, t.amount_minor)
        for t in books.takebacks.values() if t.payment_id == about.payment_id
    ])


def _available(books: Books, about: About) -> int:
    return domain.creator_balance(about.creator_id, about.currency, books.sums.get(about.currency, {})).available_minor


def _post(books: Books, kind: str, about: Refund | Dispute, postings: list[Posting], facts: EntryFacts, *,
          opens_debt: bool = False) -> Entry:
    """The entry, folded into the books: posted, and its postings in the
    creator's sums. `opens_debt`: a shortfall is the refund's or dispute's debt."""
    books.posted.add((kind, about.reference))
    domain.add_postings(books.sums, postings)
    shortfall = domain.debt_posted(about.creator_id, postings)
    opened = OpenedDebt(about.kind, about.takeback_id, shortfall) if opens_debt and shortfall > 0 else None
    balance = domain.creator_balance(about.creator_id, about.currency, books.sums.get(about.currency, {}))
    return Entry(kind, about.reference, about.creator_id, about.currency, postings, facts, balance, opened_debt=opened)
