"""The journal's hash chain, as pure rules (no I/O).

Entries are chained in `seq` order: each one's hash covers its own fields, its
postings (in posting order) and the previous entry's hash, the way payouts
chains its audit log. The database refuses ordinary UPDATE and DELETE on the
journal; the chain shows an edit made by someone who could switch that guard
off (the table's owner), even a balanced one: `python -m ledger verify-journal`.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.domain import Posting

GENESIS_HASH = "0" * 64  # prev_hash of the first entry


@dataclass(frozen=True)
class EntryFacts:
    """What an entry states besides its postings. `payment_id`, `dispute_id` and
    `fact_amount_minor` tie it to the business fact it books (the price, the
    refund, the disputed amount, in the payment's currency), so the check can
    recompute a payment's entitlement from the journal alone."""

    payment_id: str | None = None
    dispute_id: str | None = None
    fact_amount_minor: int | None = None
    stripe_balance_transaction_id: str | None = None


@dataclass(frozen=True)
class ChainedEntry:
    """The fields of one journal entry that its hash covers."""

    id: str
    cause_event_id: str
    kind: str
    creator_id: str | None
    reference: str | None
    facts: EntryFacts
    created_at: datetime
    postings: tuple[Posting, ...]

    def canonical(self) -> str:
        """Sorted keys, no whitespace, UTC ISO timestamps: the same entry always gives the same text."""
        return json.dumps(
            {
                "id": self.id,
                "cause_event_id": self.cause_event_id,
                "kind": self.kind,
                "creator_id": self.creator_id,
                "reference": self.reference,
                "payment_id": self.facts.payment_id,
                "dispute_id": self.facts.dispute_id,
                "fact_amount_minor": self.facts.fact_amount_minor,
                "stripe_balance_transaction_id": self.facts.stripe_balance_transaction_id,
                "created_at": self.created_at.astimezone(UTC).isoformat(),  # whatever zone the driver reads it in
                "postings": [[p.account, p.currency, p.amount_minor] for p in self.postings],
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )


def chain_hash(prev_hash: str, entry: ChainedEntry) -> str:
    return hashlib.sha256((prev_hash + entry.canonical()).encode()).hexdigest()


def linked(prev_hash: str, entries: Iterable[ChainedEntry]) -> list[tuple[str, str]]:
    """Each entry's (prev_hash, hash) when the entries are appended in this
    order after the entry whose hash is `prev_hash`."""
    links = []
    for entry in entries:
        entry_hash = chain_hash(prev_hash, entry)
        links.append((prev_hash, entry_hash))
        prev_hash = entry_hash
    return links


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    entry_id: str
    problem: str


class ChainChecker:
    """Walks the chain in `seq` order; `check` answers the first broken link."""

    def __init__(self) -> None:
        self._expected_prev = GENESIS_HASH

    def check(self, seq: int, prev_hash: str, stored_hash: str, entry: ChainedEntry) -> BrokenLink | None:
        if prev_hash != self._expected_prev:
            return BrokenLink(seq, entry.id, "prev_hash does not match the previous entry's hash")
        if chain_hash(prev_hash, entry) != stored_hash:
            return BrokenLink(seq, entry.id, "hash does not match the entry's content and postings")
        self._expected_prev = stored_hash
        return None

