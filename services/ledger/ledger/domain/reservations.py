"""Payout reservations, pure: what a run of payout events does, decided in
delivery order on rows read once for the whole run (ledger.handlers.payouts
reads and writes them). Each event is decided on the rows as the events before
it left them, so a batch gives exactly what applying its events one by one gives:
a creator's second request sees the first one's reservation, a payout released
twice is released once."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from contracts.events.payouts import PayoutRequestedData
from ledger import domain

# Journal entry kinds of a payout, each posted at most once per payout (reference payout:<id>).
PAYOUT_RESERVED = "payout_reserved"
PAYOUT_RELEASED = "payout_released"  # rejected, canceled, or failed before it was paid
PAYOUT_PAID = "payout_paid"
PAYOUT_FAILED_AFTER_PAID = "payout_failed_after_paid"

_OPEN = (domain.DEBT_OPEN, domain.DEBT_PARTIALLY_DEDUCTED)


def reference(payout_id: str) -> str:
    return f"payout:{payout_id}"


@dataclass(frozen=True)
class StoredReservation:
    """A payout_reservations row."""

    payout_id: str
    creator_id: str
    currency: str
    status: str
    reserved: domain.Reservation = domain.Reservation(0, ())  # nothing when refused
    refusal_reason: str | None = None


@dataclass
class Book:
    """The rows a run of payout events reads, as the events decided so far left
    them: the creators' account sums (currency -> account -> signed sum, as
    models.creator_account_sums), their debts (in the order payouts deduct
    them: oldest first) and the run's reservations. `changed_*`: what the run
    must write back."""

    sums: dict[str, dict[str, int]]
    debts: dict[str, domain.StoredDebt]
    reservations: dict[str, StoredReservation]
    changed_debts: set[str] = field(default_factory=set)
    changed_reservations: set[str] = field(default_factory=set)

    def balance(self, creator_id: str, currency: str) -> domain.CreatorBalance:
        return domain.creator_balance(creator_id, currency, self.sums.get(currency, {}))

    def has_currency(self, creator_id: str, currency: str) -> bool:
        """Whether the creator has a balance row in this currency (a payout in another is refused)."""
        in_currency = self.sums.get(currency, {})
        return any(domain.creator_account(creator_id, bucket) in in_currency for bucket in domain.CREATOR_BUCKETS)

    def post(self, postings: Sequence[domain.Posting]) -> None:
        domain.add_postings(self.sums, postings)

    def set_debt(self, debt: domain.StoredDebt, amounts: domain.DebtAmounts) -> domain.StoredDebt:
        self.debts[debt.debt_id] = changed = replace(debt, amounts=amounts)
        self.changed_debts.add(debt.debt_id)
        return changed

    def set_reservation(self, reservation: StoredReservation) -> None:
        self.reservations[reservation.payout_id] = reservation
        self.changed_reservations.add(reservation.payout_id)


# What a request comes to.


@dataclass(frozen=True)
class Refused:
    refusal: domain.Refusal
    balance: domain.CreatorBalance  # the creator's, as the refusal saw it


@dataclass(frozen=True)
class Reserved:
    reservation: domain.Reservation
    postings: list[domain.Posting]  # the payout_reserved entry
    deducted: tuple[tuple[domain.Deduction, domain.StoredDebt], ...]  # each deduction and its debt after it
    balance: domain.CreatorBalance  # the creator's, after the entry


def decide_requests(
    requests: Sequence[PayoutRequestedData], book: Book, threshold: int
) -> list[Refused | Reserved | None]:
    """Each request reserved (its gross out of available, open debt deducted
    oldest first) or refused, in order; None for a payout already decided (the
    same request announced twice). `book` holds the requests' creators' sums
    and open debts, and the reservations of their payouts."""
    return [_request(request, book, threshold) for request in requests]


def _request(request: PayoutRequestedData, book: Book, threshold: int) -> Refused | Reserved | None:
    if request.payout_id in book.reservations:
        return None
    creator, currency = request.creator_id, request.currency
    balance = book.balance(creator, currency)
    open_debts = [debt for debt in book.debts.values()
                  if (debt.creator_id, debt.currency) == (creator, currency) and debt.amounts.status in _OPEN]
    decision = domain.reserve(
        available=balance.available_minor,
        open_debts=[domain.OpenDebt(debt.debt_id, debt.amounts.remaining_minor) for debt in open_debts],
        requested=request.amount_minor,
        minimum=request.minimum_minor,
        threshold=threshold,
        currency_known=book.has_currency(creator, currency),
    )
    if isinstance(decision, domain.Refusal):
        book.set_reservation(StoredReservation(request.payout_id, creator, currency, domain.RESERVATION_REFUSED,
                                               refusal_reason=decision.reason))
        return Refused(decision, balance)
    postings = domain.payout_reserved_postings(creator, decision.gross_minor, decision.debt_deducted_minor, currency)
    book.post(postings)
    deducted = []
    for deduction in decision.deductions:
        debt = book.debts[deduction.debt_id]
        deducted.append((deduction, book.set_debt(debt, debt.amounts.deduct(deduction.amount_minor))))
    book.set_reservation(StoredReservation(request.payout_id, creator, currency, domain.RESERVATION_RESERVED,
                                           decision))
    return Reserved(decision, postings, tuple(deducted), book.balance(creator, currency))


# What a later step of a payout comes to.

RELEASE = "release"  # rejected or canceled
PAY = "pay"
FAIL = "fail"


@dataclass(frozen=True)
class Step:
    payout_id: str
    creator_id: str
    was_paid: bool = False  # a failure Stripe had reported paid before


@dataclass(frozen=True)
class Waits:
    """Read before what it builds on: the entry of this kind about the payout."""

    kind: str


@dataclass(frozen=True)
class Moved:
    kind: str  # the entry's
    postings: list[domain.Posting] | None  # None: nothing moves (paid wholly to debt)
    balance: domain.CreatorBalance  # the creator's, after the entry


def decide_steps(action: str, steps: Sequence[Step], book: Book) -> list[Moved | Waits | None]:
    """What each step of one kind (`action`) does to its payout's reservation, in
    order: it moves (an entry, a new status), waits for the request's answer (or
    a failure reported after a payment, for the payment), or changes nothing
    (refused, or moved on: a stale or repeated step). `book` holds the steps'
    creators' sums, their reservations and the debts those deducted from."""
    return [_step(action, step, book) for step in steps]


def _step(action: str, step: Step, book: Book) -> Moved | Waits | None:
    reservation = book.reservations.get(step.payout_id)
    if reservation is None:
        # payout.requested is another topic: a step read before the request
        # waits for the ledger's answer to it (a reservation or a refusal).
        return Waits(PAYOUT_RESERVED)
    if reservation.creator_id != step.creator_id:
        raise domain.InvalidAmounts(
            f"payout {step.payout_id} is {reservation.creator_id}'s, not {step.creator_id}'s"
        )
    if reservation.status == domain.RESERVATION_RESERVED:
        if action == FAIL and step.was_paid:
            return Waits(PAYOUT_PAID)  # payout.paid is another topic: the failure waits for the payment
        if action == PAY:
            return _paid(reservation, book)
        status = domain.RESERVATION_FAILED if action == FAIL else domain.RESERVATION_RELEASED
        return _returned(reservation, book, PAYOUT_RELEASED, domain.payout_released_postings, status)
    if reservation.status == domain.RESERVATION_PAID and action == FAIL:
        return _returned(reservation, book, PAYOUT_FAILED_AFTER_PAID, domain.payout_failed_after_paid_postings,
                         domain.RESERVATION_FAILED)
    return None


def _paid(reservation: StoredReservation, book: Book) -> Moved:
    book.set_reservation(replace(reservation, status=domain.RESERVATION_PAID))
    creator, currency = reservation.creator_id, reservation.currency
    if reservation.reserved.net_minor == 0:
        return Moved(PAYOUT_PAID, None, book.balance(creator, currency))  # settled wholly by debt
    postings = domain.payout_paid_postings(creator, reservation.reserved.net_minor, currency)
    book.post(postings)
    return Moved(PAYOUT_PAID, postings, book.balance(creator, currency))


def _returned(
    reservation: StoredReservation, book: Book, kind: str, returned_postings: Callable[..., list[domain.Posting]],
    status: str,
) -> Moved:
    """The gross back to available and the deductions owed again (cancelled for a
    debt whose cause was undone meanwhile: `undone`)."""
    reserved = reservation.reserved
    undone = 0
    for deduction in reserved.deductions:
        debt = book.debts[deduction.debt_id]
        book.set_debt(debt, debt.amounts.restore(deduction.amount_minor, cause_undone=debt.cause_undone))
        undone += deduction.amount_minor if debt.cause_undone else 0
    creator, currency = reservation.creator_id, reservation.currency
    postings = returned_postings(creator, reserved.gross_minor, reserved.debt_deducted_minor, undone, currency)
    book.post(postings)
    book.set_reservation(replace(reservation, status=status))
    return Moved(kind, postings, book.balance(creator, currency))
