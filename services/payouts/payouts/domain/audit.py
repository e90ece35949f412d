"""The audit log's rows as their hash covers them, who acted, and the hash chain:
each row's hash covers its content and the hash of the row before it, in `seq`
order across all payouts, so a changed or deleted row is found."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.hash_chain import GENESIS_HASH, BrokenLink, broken_link, canonical_json


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
        """Its fields, ISO timestamps: the same row always gives the same text."""
        return canonical_json(
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
            }
        )


def broken_link_of_one_payout(rows: Iterable[tuple[int, str, str, AuditRecord]],
                              predecessors: dict[int, str]) -> BrokenLink | None:
    """One payout's rows (seq, prev_hash, hash, record), with the hash of the row
    before each in the whole chain (`predecessors` by seq; none: the genesis):
    each row links to that row and hashes its own content. None if they hold."""
    for seq, prev_hash, stored_hash, record in rows:
        if (broken := broken_link(seq, prev_hash, stored_hash, record, predecessors.get(seq, GENESIS_HASH))) is not None:
            return broken
    return None

