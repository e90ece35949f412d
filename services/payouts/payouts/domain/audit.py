"""The audit log's rows as their hash covers them, who acted, and the hash chain:
each row's hash covers its content and the hash of the row before it, in `seq`
order across all payouts, so a changed or deleted row is found."""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64  # prev_hash of the first audit row


@dataclass(frozen=True)
class Actor:
    id: str
    role: str  # admin, creator, stripe, system


SYSTEM = Actor("system", "system")
STRIPE = Actor("stripe", "stripe")


@dataclass(frozen=True)
class AuditRecord:
    """The fields of one audit row that its hash covers."""

    id: str
    payout_id: str
    actor_id: str
    actor_role: str  # admin, creator, stripe, system
    old_state: str | None
    new_state: str
    reason: str | None
    metadata: dict[str, Any]
    created_at: datetime

    def canonical(self) -> str:
        """Sorted keys, no whitespace, ISO timestamps: the same row always gives the same text."""
        return json.dumps(
            {
                "id": self.id,
                "payout_id": self.payout_id,
                "actor_id": self.actor_id,
                "actor_role": self.actor_role,
                "old_state": self.old_state,
                "new_state": self.new_state,
                "reason": self.reason,
                "metadata": self.metadata,
                "created_at": self.created_at.isoformat(),
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )


def chain_hash(prev_hash: str, record: AuditRecord) -> str:
    return hashlib.sha256((prev_hash + record.canonical()).encode()).hexdigest()


def linked(prev_hash: str, records: Iterable[AuditRecord]) -> list[tuple[str, str]]:
    """Each record's (prev_hash, hash) when the records are appended in this
    order after the row whose hash is `prev_hash`."""
    links = []
    for record in records:
        record_hash = chain_hash(prev_hash, record)
        links.append((prev_hash, record_hash))
        prev_hash = record_hash
    return links


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    audit_id: str
    problem: str


class ChainChecker:
    """Walks the chain in `seq` order; `check` answers the first broken link."""

    def __init__(self) -> None:
        self._expected_prev = GENESIS_HASH

    def check(self, seq: int, prev_hash: str, stored_hash: str, record: AuditRecord) -> BrokenLink | None:
        if prev_hash != self._expected_prev:
            return BrokenLink(seq, record.id, "prev_hash does not match the previous row's hash")
        if chain_hash(prev_hash, record) != stored_hash:
            return BrokenLink(seq, record.id, "hash does not match the row's content")
        self._expected_prev = stored_hash
        return None


def broken_link_of_one_payout(rows: Iterable[tuple[int, str, str, AuditRecord]],
                              predecessors: dict[int, str]) -> BrokenLink | None:
    """One payout's rows (seq, prev_hash, hash, record), with the hash of the row
    before each in the whole chain (`predecessors` by seq; none: the genesis):
    each row links to that row and hashes its own content. None if they hold."""
    for seq, prev_hash, stored_hash, record in rows:
        if prev_hash != predecessors.get(seq, GENESIS_HASH):
            return BrokenLink(seq, record.id, "prev_hash does not match the previous row's hash")
        if chain_hash(prev_hash, record) != stored_hash:
            return BrokenLink(seq, record.id, "hash does not match the row's content")
    return None


def first_broken_link(rows: Iterable[tuple[int, str, str, AuditRecord]]) -> BrokenLink | None:
    """Rows as (seq, prev_hash, hash, record) in chain order; None if the chain holds."""
    checker = ChainChecker()
    for row in rows:
        if (broken := checker.check(*row)) is not None:
            return broken
    return None
