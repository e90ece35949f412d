"""The ledger's invariants as pure rules over what the database holds.

Fed the journal in posting order and the debts projection, `Audit` reports:
an entry that does not balance per currency (or has no postings), a causing
event id used twice, a creator account that goes negative at any point of the
replay (available, disputed, reserved, debt: shortfalls must become debt), a
debt row whose status does not match its amounts, a creator+currency whose
open debts do not add up to the `creator:{id}:debt` account, and one whose
RESERVED payout reservations' net amounts do not add up to `creator:{id}:reserved`.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from ledger import domain


@dataclass(frozen=True)
class EntryRecord:
    entry_id: str
    cause_event_id: str
    kind: str
    postings: tuple[domain.Posting, ...]


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
    _creator_sums: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    _causes: set[str] = field(default_factory=set)

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
        touched = set()
        for posting in entry.postings:
            if creator_bucket(posting.account) is not None:
                key = (posting.account, posting.currency)
                self._creator_sums[key] += posting.amount_minor
                touched.add(key)
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

    def summary(self) -> str:
        creators = len({creator_bucket(account)[0] for account, _ in self._creator_sums})  # type: ignore[index]
        return (
            f"ledger check OK: {self.entries} entries, {self.postings} postings balanced, "
            f"{creators} creators never negative, {self.debts} debts match the debt accounts, "
            f"{self.reservations} payout reservations match the reserved accounts"
        )
