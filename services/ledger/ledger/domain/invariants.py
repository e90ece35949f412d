"""The ledger's invariants as pure rules over what the database holds.

Fed the journal in chain order and the debts and reservations projections,
`Audit` reports: an entry that does not balance per currency (or has no
postings), a causing event id used twice, a posting to an account outside the
chart of accounts, a creator account that goes negative at any point of the
replay (available, disputed, reserved, debt: shortfalls must become debt), a
platform expense account (processing or dispute fees) or `stripe:disputed_funds`
below zero at the end, a debt row whose status does not match its amounts, a
creator+currency whose open debts do not add up to the `creator:{id}:debt`
account, one whose RESERVED payout reservations' net amounts do not add up to
`creator:{id}:reserved`, a reservation whose status is unknown or disagrees
with the payout entries posted for it, and what ledger.domain.payment_audit finds per
payment (clawbacks, entitlement) and per dispute (balance transactions).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from ledger import domain
from ledger.domain.chain import EntryFacts
from ledger.domain.payment_audit import PaymentAudit


@dataclass(frozen=True)
class EntryRecord:
    entry_id: str
    cause_event_id: str
    kind: str
    postings: tuple[domain.Posting, ...]
    creator_id: str | None = None
    reference: str | None = None
    facts: EntryFacts = EntryFacts()


@dataclass(frozen=True)
class DebtRecord:
    debt_id: str
    creator_id: str
    currency: str
    amount_minor: int
    remaining_minor: int
    reversed_minor: int
    status: str


@dataclass(frozen=True)
class ReservationRecord:
    payout_id: str
    creator_id: str
    currency: str
    gross_minor: int
    debt_deducted_minor: int
    net_minor: int
    status: str


def creator_bucket(account: str) -> tuple[str, str] | None:
    """("c1", "available") for "creator:c1:available"; None for platform accounts."""
    if not account.startswith("creator:"):
        return None
    creator_id, _, bucket = account.removeprefix("creator:").rpartition(":")
    return (creator_id, bucket) if creator_id else None


# The chart of accounts besides the creators' (creator:{id}:{bucket}).
PLATFORM_ACCOUNTS = frozenset({
    domain.STRIPE_BALANCE, domain.STRIPE_DISPUTED_FUNDS, domain.STRIPE_CONVERSION,
    domain.PLATFORM_REVENUE, domain.PLATFORM_PROCESSING_FEES, domain.PLATFORM_DISPUTE_FEES,
})
# Accounts whose balance can never end below zero: expenses the platform pays
# (debit-normal) and the money the card network holds for open disputes.
NEVER_NEGATIVE_AT_END = (domain.PLATFORM_PROCESSING_FEES, domain.PLATFORM_DISPUTE_FEES, domain.STRIPE_DISPUTED_FUNDS)

# The payout entries (kinds, see ledger.handlers.payouts) a reservation in each
# status has posted; a payout whose net is 0 posts no `payout_paid` (nothing left Stripe).
_PAID = "payout_paid"
PAYOUT_ENTRIES_BY_STATUS: dict[str, tuple[frozenset[str], ...]] = {
    domain.RESERVATION_REFUSED: (frozenset(),),
    domain.RESERVATION_RESERVED: (frozenset({"payout_reserved"}),),
    domain.RESERVATION_RELEASED: (frozenset({"payout_reserved", "payout_released"}),),
    domain.RESERVATION_PAID: (frozenset({"payout_reserved", _PAID}),),
    domain.RESERVATION_FAILED: (
        frozenset({"payout_reserved", "payout_released"}),
        frozenset({"payout_reserved", _PAID, "payout_failed_after_paid"}),
    ),
}


def expected_payout_entries(status: str, net_minor: int) -> tuple[frozenset[str], ...] | None:
    """The sets of entry kinds a reservation may have posted; None for an unknown status."""
    expected = PAYOUT_ENTRIES_BY_STATUS.get(status)
    if expected is None or net_minor > 0:
        return expected
    return tuple(kinds - {_PAID} for kinds in expected)


def known_account(account: str) -> bool:
    if account in PLATFORM_ACCOUNTS:
        return True
    bucket = creator_bucket(account)
    return bucket is not None and bucket[1] in domain.CREATOR_BUCKETS


def owed(bucket: str, signed_sum: int) -> int:
    """The balance as the creator reads it: credit-normal buckets negated, debt as is."""
    return signed_sum if bucket == "debt" else -signed_sum


@dataclass
class Audit:
    problems: list[str] = field(default_factory=list)
    entries: int = 0
    postings: int = 0
    debts: int = 0
    reservations: int = 0
    balances: int = 0
    _creator_sums: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    _platform_sums: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    _causes: set[str] = field(default_factory=set)
    _payout_entries: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # payout id -> kinds
    _payments: PaymentAudit = field(default_factory=PaymentAudit)

    def add_entry(self, entry: EntryRecord) -> None:
        self.entries += 1
        self.postings += len(entry.postings)
        label = f"entry {entry.entry_id} ({entry.kind})"
        if entry.cause_event_id in self._causes:
            self.problems.append(f"{label}: cause event {entry.cause_event_id} posted twice")
        self._causes.add(entry.cause_event_id)
        try:
            domain.check_balanced(entry.postings)
        except domain.UnbalancedEntry as error:
            self.problems.append(f"{label}: {error}")
        if entry.reference is not None and entry.reference.startswith("payout:"):
            self._payout_entries[entry.reference.removeprefix("payout:")].add(entry.kind)
        self._payments.add(entry.entry_id, entry.kind, entry.creator_id, entry.postings, entry.facts)
        touched = set()
        for posting in entry.postings:
            key = (posting.account, posting.currency)
            if not known_account(posting.account):
                self.problems.append(f"{label}: posts to {posting.account}, an account outside the chart")
            elif creator_bucket(posting.account) is not None:
                self._creator_sums[key] += posting.amount_minor
                touched.add(key)
            else:
                self._platform_sums[key] += posting.amount_minor
        # After every entry, not only at the end: a shortfall must never be
        # hidden by money that arrived later.
        for account, currency in sorted(touched):
            _, bucket = creator_bucket(account)  # type: ignore[misc]
            balance = owed(bucket, self._creator_sums[(account, currency)])
            if balance < 0:
                self.problems.append(f"{label}: leaves {account} at {balance} {currency}")

    def check_debts(self, debts: Iterable[DebtRecord]) -> None:
        """The debts projection against the journal's debt accounts."""
        remaining: dict[tuple[str, str], int] = defaultdict(int)
        for debt in debts:
            self.debts += 1
            amounts = domain.DebtAmounts(debt.amount_minor, debt.remaining_minor, debt.reversed_minor)
            if debt.remaining_minor < 0 or amounts.deducted_minor < 0:
                self.problems.append(f"debt {debt.debt_id}: impossible amounts {amounts}")
            elif amounts.status != debt.status:
                self.problems.append(f"debt {debt.debt_id}: status {debt.status}, its amounts say {amounts.status}")
            remaining[(domain.creator_account(debt.creator_id, "debt"), debt.currency)] += debt.remaining_minor
        in_journal = {
            key: total for key, total in self._creator_sums.items() if creator_bucket(key[0])[1] == "debt"  # type: ignore[index]
        }
        for account, currency in sorted(set(remaining) | set(in_journal)):
            journal = in_journal.get((account, currency), 0)
            projected = remaining.get((account, currency), 0)
            if journal != projected:
                self.problems.append(
                    f"{account} is {journal} {currency} in the journal but its open debts add up to {projected}"
                )

    def check_reservations(self, reservations: Iterable[ReservationRecord]) -> None:
        """The payout reservations against the journal's reserved accounts: what
        is RESERVED (requested, not yet paid, released or failed) is exactly the net."""
        held: dict[tuple[str, str], int] = defaultdict(int)
        for reservation in reservations:
            self.reservations += 1
            if min(reservation.net_minor, reservation.debt_deducted_minor) < 0 or (
                reservation.gross_minor != reservation.net_minor + reservation.debt_deducted_minor
            ):
                self.problems.append(f"payout reservation {reservation.payout_id}: impossible amounts")
            if reservation.status == domain.RESERVATION_RESERVED:
                key = (domain.creator_account(reservation.creator_id, "reserved"), reservation.currency)
                held[key] += reservation.net_minor
            posted = frozenset(self._payout_entries.pop(reservation.payout_id, ()))
            expected = expected_payout_entries(reservation.status, reservation.net_minor)
            if expected is None:
                self.problems.append(f"payout reservation {reservation.payout_id}: unknown status {reservation.status}")
            elif posted not in expected:
                self.problems.append(
                    f"payout reservation {reservation.payout_id}: {reservation.status} but its entries are "
                    f"{sorted(posted) or 'none'}"
                )
        for payout_id, kinds in sorted(self._payout_entries.items()):
            self.problems.append(f"payout {payout_id}: entries {sorted(kinds)} but no reservation")
        in_journal = {
            key: owed("reserved", total)
            for key, total in self._creator_sums.items()
            if creator_bucket(key[0])[1] == "reserved"  # type: ignore[index]
        }
        for account, currency in sorted(set(held) | set(in_journal)):
            journal = in_journal.get((account, currency), 0)
            projected = held.get((account, currency), 0)
            if journal != projected:
                self.problems.append(
                    f"{account} is {journal} {currency} in the journal but its reserved payouts add up to {projected}"
                )

    def check_balances(self, balances: Iterable[tuple[str, str, int]]) -> None:
        """Each account's balance row against the sum of its postings in the journal."""
        journal = {**self._creator_sums, **self._platform_sums}
        stored = {(account, currency): int(amount) for account, currency, amount in balances}
        for key in sorted(journal.keys() | stored.keys()):
            if stored.get(key) != journal.get(key, 0):
                account, currency = key
                self.problems.append(
                    f"{account} {currency}: balance row says {stored.get(key)}, its postings add up to {journal.get(key, 0)}"
                )
        self.balances = len(stored)

    def check_accounts_and_payments(self) -> None:
        """What only the whole journal shows: platform accounts' end balances,
        then each payment's entitlement and each dispute's balance transactions."""
        for (account, currency), total in sorted(self._platform_sums.items()):
            if account in NEVER_NEGATIVE_AT_END and total < 0:
                self.problems.append(f"{account} ends at {total} {currency}, below zero")
        self.problems.extend(self._payments.problems())

    def summary(self) -> str:
        creators = len({creator_bucket(account)[0] for account, _ in self._creator_sums})  # type: ignore[index]
        return (
            f"ledger check OK: {self.entries} entries, {self.postings} postings balanced, "
            f"{creators} creators never negative, {self.debts} debts match the debt accounts, "
            f"{self.reservations} payout reservations match the reserved accounts and their entries, "
            f"{self._payments.payments} payments hold their entitlement, "
            f"{self._payments.disputes} disputes' balance transactions posted once, "
            f"{len({account for account, _ in self._platform_sums})} platform accounts in bounds, "
            f"{self.balances} account balances match their postings"
        )
