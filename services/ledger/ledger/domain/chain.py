"""What the journal's hash chain covers, as pure rules (no I/O).

Entries are chained in `seq` order (common.hash_chain): each one's hash covers
its own fields, its postings (in posting order) and the previous entry's hash,
the way payouts chains its audit log. The database refuses ordinary UPDATE and DELETE on the
journal; the chain shows an edit made by someone who could switch that guard
off (the table's owner), even a balanced one: `python -m ledger verify-journal`.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from common.hash_chain import canonical_json
from ledger.domain import Posting


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
        """Its fields and postings, UTC ISO timestamps: the same entry always gives the same text."""
        return canonical_json(
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
            }
        )

