"""The ledger's pure rules: accounts, balanced entries, balances from postings.

Stored postings are signed: a debit is positive, a credit negative, and every
entry sums to zero per currency. Creator accounts are liabilities of the
platform (credit-normal), so what a creator is owed is the negated sum.
"""

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

STRIPE_BALANCE = "stripe:balance"
PLATFORM_REVENUE = "platform:revenue"
PLATFORM_PROCESSING_FEES = "platform:processing_fees"
PLATFORM_DISPUTE_FEES = "platform:dispute_fees"
# Money the card network has taken for an open dispute (funds withdrawn, outcome pending).
STRIPE_DISPUTED_FUNDS = "stripe:disputed_funds"
# Where Stripe converts a charge (or dispute) currency into the platform's
# settlement currency: each side books its own currency at the amounts the
# balance transaction reports, so every currency balances on its own.
STRIPE_CONVERSION = "stripe:conversion"

CREATOR_BUCKETS = ("available", "disputed", "reserved", "debt")


def creator_account(creator_id: str, bucket: str) -> str:
    if bucket not in CREATOR_BUCKETS:
        raise ValueError(f"unknown creator bucket {bucket!r}")
    return f"creator:{creator_id}:{bucket}"


class LedgerError(Exception):
    """Base of the ledger's domain errors."""


class UnbalancedEntry(LedgerError):
    pass


class InvalidAmounts(LedgerError):
    """An event whose amounts cannot be posted (e.g. a clawback above the refund)."""


@dataclass(frozen=True)
class Posting:
    account: str
    amount_minor: int  # debit > 0, credit < 0
    currency: str


def net_by_account(postings: Iterable[Posting]) -> dict[tuple[str, str], int]:
    """What the postings add to each (account, currency)."""
    net: dict[tuple[str, str], int] = defaultdict(int)
    for posting in postings:
        net[(posting.account, posting.currency)] += posting.amount_minor
    return dict(net)


def first_posted(unique_keys: Iterable[Iterable[Hashable]], posted: Iterable[Hashable]) -> list[int]:
    """Which of a run of entries post, by position: an entry posts nothing when
    one of its unique keys (its cause event, its kind and reference) is already
    an entry's, in the journal (`posted`) or among the entries before it."""
    taken = set(posted)
    chosen = []
    for position, keys in enumerate(unique_keys):
        keys = set(keys)
        if keys.isdisjoint(taken):
            taken |= keys
            chosen.append(position)
    return chosen


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


def _entry(postings: list[Posting]) -> list[Posting]:
    """Drop zero postings (a refund fully covered by `available` posts no debt),
    but keep an all-zero entry whole: it still records that the event happened."""
    check_balanced(postings)
    return [p for p in postings if p.amount_minor != 0] or postings


def _non_negative(**amounts: int) -> None:
    negative = {name: value for name, value in amounts.items() if value < 0}
    if negative:
        raise InvalidAmounts(f"amounts must not be negative: {negative}")


def _take_from_available(creator_id: str, amount: int, available: int, currency: str) -> list[Posting]:
    """Take `amount` from the creator: what `available` holds covers it, the
    shortfall becomes debt, so `available` never goes below zero."""
    covered = min(max(available, 0), amount)
    return [
        Posting(creator_account(creator_id, "available"), covered, currency),
        Posting(creator_account(creator_id, "debt"), amount - covered, currency),
    ]


def movement_postings(
    creator_id: str,
    currency: str,
    *,
    entitled_change: int,
    frozen_change: int,
    available: int = 0,
    debt_to_cancel: int = 0,
    outside: tuple[Posting, ...] = (),
) -> list[Posting]:
    """One movement on a payment (see ledger.domain.entitlement): the creator's
    entitlement moves by `entitled_change` and the frozen share by
    `frozen_change`; `outside` is what moves at Stripe (in `currency`, and, when
    converted, in the settlement currency too, balanced on its own); the
    platform's revenue takes the rest in `currency` (the platform, not the
    creator, absorbs rounding).

    Taken from the creator: out of what `available` holds, the shortfall becomes
    debt. Given back: first cancels up to `debt_to_cancel` of the debt this
    movement's cause opened, the rest goes to `available`.
    """
    _non_negative(debt_to_cancel=debt_to_cancel)
    postings = list(outside)
    if entitled_change < 0:
        postings += _take_from_available(creator_id, -entitled_change, available, currency)
    else:
        cancelled = min(debt_to_cancel, entitled_change)
        postings += [
            Posting(creator_account(creator_id, "available"), -(entitled_change - cancelled), currency),
            Posting(creator_account(creator_id, "debt"), -cancelled, currency),
        ]
    postings.append(Posting(creator_account(creator_id, "disputed"), -frozen_change, currency))
    postings.append(Posting(PLATFORM_REVENUE, -sum(p.amount_minor for p in postings if p.currency == currency), currency))
    return _entry(postings)


def refund_postings(
    creator_id: str, amount: int, entitled_change: int, frozen_change: int, available: int, currency: str,
    *, stripe_side: Sequence[Posting] | None = None,
) -> list[Posting]:
    """The fan gets `amount` back from the Stripe balance; the creator gives back
    what their entitlement lost, the platform the rest. `stripe_side`: how the
    balance paid it when it settles in another currency (ledger.domain.settlement)."""
    _non_negative(amount=amount, clawback=-entitled_change)
    if -entitled_change > amount:
        raise InvalidAmounts(f"clawback {-entitled_change} is more than the refund {amount}")
    return movement_postings(
        creator_id, currency, entitled_change=entitled_change, frozen_change=frozen_change, available=available,
        outside=tuple(stripe_side or (Posting(STRIPE_BALANCE, -amount, currency),)),
    )


def refund_reversal_postings(
    creator_id: str, amount: int, entitled_change: int, frozen_change: int, debt_open: int, currency: str,
    *, stripe_side: Sequence[Posting] | None = None,
) -> list[Posting]:
    """A succeeded refund that Stripe failed later: the fan's money is back on
    the Stripe balance, the creator gets back what their entitlement regained
    (recomputed from the payment's totals, not the refund's own clawback),
    cancelling first what is still open of the debt the refund opened.
    `stripe_side` as for refund_postings (the failure's own balance transaction)."""
    _non_negative(amount=amount, given_back=entitled_change, debt_open=debt_open)
    return movement_postings(
        creator_id, currency, entitled_change=entitled_change, frozen_change=frozen_change, debt_to_cancel=debt_open,
        outside=tuple(stripe_side or (Posting(STRIPE_BALANCE, amount, currency),)),
    )


def dispute_funds_withdrawn_postings(amount: int, fee: int, currency: str) -> list[Posting]:
    """The card network takes the disputed amount, Stripe its dispute fee."""
    _non_negative(amount=amount, fee=fee)
    return _entry(
        [
            Posting(STRIPE_BALANCE, -(amount + fee), currency),
            Posting(PLATFORM_DISPUTE_FEES, fee, currency),
            Posting(STRIPE_DISPUTED_FUNDS, amount, currency),
        ]
    )


def dispute_funds_reinstated_postings(amount: int, fee: int, currency: str) -> list[Posting]:
    """The disputed amount (and the fee Stripe gives back, if any) return."""
    _non_negative(amount=amount, fee=fee)
    return _entry(
        [
            Posting(STRIPE_BALANCE, amount + fee, currency),
            Posting(PLATFORM_DISPUTE_FEES, -fee, currency),
            Posting(STRIPE_DISPUTED_FUNDS, -amount, currency),
        ]
    )


def dispute_opened_postings(creator_id: str, entitled_change: int, frozen_change: int, available: int,
                            currency: str) -> list[Posting]:
    """Part of the creator's share is frozen: out of `available` (shortfall ->
    debt) into `disputed`."""
    _non_negative(frozen=-entitled_change)
    return movement_postings(
        creator_id, currency, entitled_change=entitled_change, frozen_change=frozen_change, available=available
    )


def dispute_won_postings(creator_id: str, entitled_change: int, frozen_change: int, currency: str) -> list[Posting]:
    """What the entitlement regains goes back to `available` (a debt the opening
    created stays open: it is deducted at payout time like any other); the
    frozen share leaves `disputed`; the platform takes or gives a rounding unit."""
    _non_negative(given_back=entitled_change)
    return movement_postings(creator_id, currency, entitled_change=entitled_change, frozen_change=frozen_change)


def dispute_lost_postings(creator_id: str, amount: int, entitled_change: int, frozen_change: int,
                          currency: str) -> list[Posting]:
    """The frozen share is gone for good; the platform bears the rest of the
    disputed amount; the money the network took is written off."""
    _non_negative(amount=amount, released=-frozen_change)
    if -frozen_change > amount:
        raise InvalidAmounts(f"frozen share {-frozen_change} is more than the disputed amount {amount}")
    return movement_postings(
        creator_id, currency, entitled_change=entitled_change, frozen_change=frozen_change,
        outside=(Posting(STRIPE_DISPUTED_FUNDS, -amount, currency),),
    )


def debt_posted(creator_id: str, postings: list[Posting]) -> int:
    """What an entry adds to the creator's debt (the shortfall), in minor units."""
    debt = creator_account(creator_id, "debt")
    return sum(p.amount_minor for p in postings if p.account == debt)


def touches_creator(creator_id: str, postings: list[Posting]) -> bool:
    prefix = f"creator:{creator_id}:"
    return any(p.account.startswith(prefix) for p in postings)


@dataclass(frozen=True)
class CreatorBalance:
    """What a creator sees, in minor units: owed to them (available, disputed,
    reserved) and owed by them (debt), all non-negative in normal operation."""

    currency: str
    available_minor: int = 0
    disputed_minor: int = 0
    reserved_minor: int = 0
    debt_minor: int = 0


def payouts_blocked(debt: int, threshold: int) -> bool:
    """Payouts stop while the debt is above the threshold (per currency)."""
    return debt > threshold


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


def add_postings(sums: dict[str, dict[str, int]], postings: Iterable[Posting]) -> None:
    """Fold an entry's postings into signed sums (currency -> account -> sum)."""
    for (account, currency), amount in net_by_account(postings).items():
        in_currency = sums.setdefault(currency, {})
        in_currency[account] = in_currency.get(account, 0) + amount


def balances_after_each(
    before: Mapping[str, Mapping[str, int]], entries: Iterable[tuple[str, str, Sequence[Posting]]]
) -> list[CreatorBalance]:
    """The balance each entry of a run leaves its creator with, in order: from
    the signed sums per currency and account `before` the run (its creators'
    accounts at least), each entry (creator, currency, postings) adding its own."""
    sums = {currency: dict(by_account) for currency, by_account in before.items()}
    balances = []
    for creator_id, currency, postings in entries:
        add_postings(sums, postings)
        balances.append(creator_balance(creator_id, currency, sums.get(currency, {})))
    return balances


# Debts: what a shortfall left the creator owing, one per cause (refund or dispute).
# The journal's `creator:{id}:debt` account is the truth; the debts table is its
# projection per cause: sum(remaining) == the debt account, per creator and currency.
DEBT_OPEN = "OPEN"
DEBT_PARTIALLY_DEDUCTED = "PARTIALLY_DEDUCTED"
DEBT_SETTLED = "SETTLED"  # fully deducted from payouts
DEBT_REVERSED = "REVERSED"  # its cause was undone (refund failed) before it was fully deducted
DEBT_STATUSES = (DEBT_OPEN, DEBT_PARTIALLY_DEDUCTED, DEBT_SETTLED, DEBT_REVERSED)


@dataclass(frozen=True)
class DebtAmounts:
    amount_minor: int  # what the shortfall created
    remaining_minor: int  # still owed
    reversed_minor: int = 0  # cancelled because the cause was undone

    @property
    def deducted_minor(self) -> int:
        """Already taken from payouts."""
        return self.amount_minor - self.remaining_minor - self.reversed_minor

    @property
    def status(self) -> str:
        if self.remaining_minor == self.amount_minor:
            return DEBT_OPEN
        if self.remaining_minor > 0:
            return DEBT_PARTIALLY_DEDUCTED
        return DEBT_REVERSED if self.reversed_minor > 0 else DEBT_SETTLED

    def reversed(self, amount: int) -> "DebtAmounts":
        """The cause was undone: `amount` of what remains is cancelled (all of it
        unless a rounding unit moved; what payouts already deducted went back to
        `available`, see refund_reversal_postings)."""
        if not 0 <= amount <= self.remaining_minor:
            raise InvalidAmounts(f"cannot cancel {amount} of a remaining {self.remaining_minor}")
        return DebtAmounts(self.amount_minor, self.remaining_minor - amount, self.reversed_minor + amount)

    def deduct(self, amount: int) -> "DebtAmounts":
        """A payout takes `amount` of what remains."""
        if not 0 <= amount <= self.remaining_minor:
            raise InvalidAmounts(f"cannot deduct {amount} of a remaining {self.remaining_minor}")
        return DebtAmounts(self.amount_minor, self.remaining_minor - amount, self.reversed_minor)

    def restore(self, amount: int, *, cause_undone: bool) -> "DebtAmounts":
        """A payout that deducted `amount` was released or failed: it is owed again,
        unless the debt's cause was undone meanwhile (a failed refund): then it is
        cancelled as reversed, like the rest of that debt."""
        if not 0 <= amount <= self.deducted_minor:
            raise InvalidAmounts(f"cannot restore {amount} of a deducted {self.deducted_minor}")
        if cause_undone:
            return DebtAmounts(self.amount_minor, self.remaining_minor, self.reversed_minor + amount)
        return DebtAmounts(self.amount_minor, self.remaining_minor + amount, self.reversed_minor)


@dataclass(frozen=True)
class StoredDebt:
    """A debts row, as the rules that change it read it (refund failures, payouts)."""

    debt_id: str
    creator_id: str
    currency: str
    amounts: DebtAmounts
    # Its cause was undone (a refund that failed after succeeding): what a payout
    # deducted from it is cancelled when given back, not owed again.
    cause_undone: bool = False


# Payouts: the ledger answers a payout request with a reservation or a refusal.
# A reservation's row (payout_reservations) follows it through the workflow.
RESERVATION_RESERVED = "RESERVED"  # gross out of available, net in reserved
RESERVATION_REFUSED = "REFUSED"  # nothing was reserved (payout.funds_rejected)
RESERVATION_RELEASED = "RELEASED"  # rejected or canceled: reservation and deduction reversed
RESERVATION_PAID = "PAID"  # net left stripe:balance
RESERVATION_FAILED = "FAILED"  # failed (before or after paid): funds back to available
RESERVATION_STATUSES = (
    RESERVATION_RESERVED, RESERVATION_REFUSED, RESERVATION_RELEASED, RESERVATION_PAID, RESERVATION_FAILED,
)

CURRENCY_MISMATCH = "currency_mismatch"
DEBT_ABOVE_THRESHOLD = "debt_above_threshold"
BELOW_MINIMUM = "below_minimum"
INSUFFICIENT_AVAILABLE = "insufficient_available"


@dataclass(frozen=True)
class OpenDebt:
    debt_id: str
    remaining_minor: int


@dataclass(frozen=True)
class Deduction:
    debt_id: str
    amount_minor: int


@dataclass(frozen=True)
class Refusal:
    reason: str  # one of the refusal reasons above
    detail: str


@dataclass(frozen=True)
class Reservation:
    gross_minor: int  # leaves available
    deductions: tuple[Deduction, ...]  # open debts paid from the gross, oldest first

    @property
    def debt_deducted_minor(self) -> int:
        return sum(d.amount_minor for d in self.deductions)

    @property
    def net_minor(self) -> int:
        """What goes to the creator's bank; 0 when the debt took it all."""
        return self.gross_minor - self.debt_deducted_minor


def reserve(
    available: int,
    open_debts: list[OpenDebt],
    requested: int | None,
    minimum: int,
    threshold: int,
    currency_known: bool,
) -> Reservation | Refusal:
    """Decide a payout request. `open_debts` in FIFO order (oldest first);
    `requested` None asks for all that is available; `minimum` bounds the gross."""
    debt = sum(d.remaining_minor for d in open_debts)
    if not currency_known:
        return Refusal(CURRENCY_MISMATCH, "the creator has no balance in this currency")
    # Above the threshold a payout is refused unless it pays the debt back down
    # to the threshold itself: otherwise a creator in debt could never get out,
    # since only payouts deduct debt (new earnings never pay it silently).
    asked = available if requested is None else min(requested, max(available, 0))
    if payouts_blocked(debt - max(asked, 0), threshold):
        return Refusal(
            DEBT_ABOVE_THRESHOLD,
            f"debt {debt} is above the threshold {threshold} and this payout would not bring it back under",
        )
    if requested is not None and requested < minimum:
        return Refusal(BELOW_MINIMUM, f"requested {requested} is below the minimum {minimum}")
    gross = available if requested is None else requested
    if gross <= 0 or gross > available:
        return Refusal(INSUFFICIENT_AVAILABLE, f"requested {gross} but {max(available, 0)} is available")
    if gross < minimum:
        return Refusal(BELOW_MINIMUM, f"all available ({gross}) is below the minimum {minimum}")
    deductions: list[Deduction] = []
    left = gross
    for open_debt in open_debts:
        taken = min(open_debt.remaining_minor, left)
        if taken > 0:
            deductions.append(Deduction(open_debt.debt_id, taken))
            left -= taken
    return Reservation(gross, tuple(deductions))


def payout_reserved_postings(creator_id: str, gross: int, deducted: int, currency: str) -> list[Posting]:
    """The gross leaves available for reserved; the debt deducted from it leaves
    reserved again to pay the debt, so reserved holds the net."""
    _non_negative(gross=gross, deducted=deducted)
    if deducted > gross:
        raise InvalidAmounts(f"deducted {deducted} from a gross of {gross}")
    reserved = creator_account(creator_id, "reserved")
    return _entry(
        [
            Posting(creator_account(creator_id, "available"), gross, currency),
            Posting(reserved, -gross, currency),
            Posting(reserved, deducted, currency),
            Posting(creator_account(creator_id, "debt"), -deducted, currency),
        ]
    )


def _payout_returned(
    creator_id: str, source: str, gross: int, deducted: int, undone: int, currency: str
) -> list[Posting]:
    """The gross goes back to available and the deducted debt is owed again,
    the net coming from `source`. `undone` is the part of the deduction whose
    debt was cancelled meanwhile (its refund failed): refund_reversal_postings
    already gave it back to available, so it is neither owed again nor given twice."""
    _non_negative(gross=gross, deducted=deducted, undone=undone)
    if not undone <= deducted <= gross:
        raise InvalidAmounts(f"gross {gross}, deducted {deducted}, undone {undone}")
    return _entry(
        [
            Posting(creator_account(creator_id, "available"), -(gross - undone), currency),
            Posting(creator_account(creator_id, "debt"), deducted - undone, currency),
            Posting(source, gross - deducted, currency),
        ]
    )


def payout_released_postings(creator_id: str, gross: int, deducted: int, undone: int, currency: str) -> list[Posting]:
    """Rejected, canceled, or failed before it was paid: the reservation entry
    reversed (net back out of reserved)."""
    return _payout_returned(creator_id, creator_account(creator_id, "reserved"), gross, deducted, undone, currency)


def payout_paid_postings(creator_id: str, net: int, currency: str) -> list[Posting]:
    """The net leaves the platform's Stripe balance for the creator's bank."""
    _non_negative(net=net)
    return _entry(
        [
            Posting(creator_account(creator_id, "reserved"), net, currency),
            Posting(STRIPE_BALANCE, -net, currency),
        ]
    )


def payout_failed_after_paid_postings(
    creator_id: str, gross: int, deducted: int, undone: int, currency: str
) -> list[Posting]:
    """Stripe failed a payout it had reported paid; the transfer is reversed, so
    the net is back on the platform's balance and the creator is owed the gross again."""
    return _payout_returned(creator_id, STRIPE_BALANCE, gross, deducted, undone, currency)
