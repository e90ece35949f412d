"""the journal's hash chain, and the facts an entry books

Revision ID: 0005_journal_chain (file 0006: after 0005_payment_entitlements)
Revises: 7e1c0a5e0005

Each entry gets `seq` (its place in the chain), `prev_hash` and `hash` (sha256
of the previous hash and the entry with its postings, see ledger.domain.chain), and
the facts the check recomputes entitlements and disputes from: `payment_id`,
`dispute_id`, `fact_amount_minor`, `stripe_balance_transaction_id` (NULL on
entries posted before this revision). Entries already posted are chained here
in the order they were posted; that needs their rows updated once, so the
append-only trigger is switched off for this transaction only (the migration
runs as the table's owner).
"""

import sqlalchemy as sa
from alembic import op

from common import hash_chain
from ledger.domain import chain
from ledger.domain import Posting

revision = "0005_journal_chain"
down_revision = "7e1c0a5e0005"  # 0005_payment_entitlements
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in (
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=True),
        sa.Column("hash", sa.String(64), nullable=True),
        sa.Column("payment_id", sa.Text, nullable=True),
        sa.Column("dispute_id", sa.Text, nullable=True),
        sa.Column("fact_amount_minor", sa.BigInteger, nullable=True),
        sa.Column("stripe_balance_transaction_id", sa.Text, nullable=True),
    ):
        op.add_column("journal_entries", column)
    chained = _chain_existing_entries()
    op.alter_column("journal_entries", "seq", nullable=False)
    op.alter_column("journal_entries", "prev_hash", nullable=False)
    op.alter_column("journal_entries", "hash", nullable=False)
    op.execute(
        "ALTER TABLE journal_entries ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY "
        f"(START WITH {chained + 1})"
    )
    op.create_index("journal_entries_seq", "journal_entries", ["seq"], unique=True)
    op.create_index("journal_entries_hash", "journal_entries", ["hash"], unique=True)
    op.create_index("journal_entries_payment_id", "journal_entries", ["payment_id"])
    op.create_index(
        "journal_entries_stripe_balance_transaction_id", "journal_entries", ["stripe_balance_transaction_id"]
    )


def _chain_existing_entries() -> int:
    connection = op.get_bind()
    entries = connection.execute(
        sa.text(
            "SELECT id, cause_event_id, kind, creator_id, reference, created_at FROM journal_entries "
            "ORDER BY created_at, id"
        )
    ).all()
    if not entries:
        return 0
    postings: dict = {}
    for entry_id, account, currency, amount in connection.execute(
        sa.text("SELECT entry_id, account, currency, amount_minor FROM postings ORDER BY id")
    ):
        postings.setdefault(entry_id, []).append(Posting(account, int(amount), currency))
    op.execute("ALTER TABLE journal_entries DISABLE TRIGGER journal_entries_append_only")
    prev_hash = hash_chain.GENESIS_HASH
    for seq, (entry_id, cause_event_id, kind, creator_id, reference, created_at) in enumerate(entries, start=1):
        entry = chain.ChainedEntry(
            id=str(entry_id), cause_event_id=str(cause_event_id), kind=kind, creator_id=creator_id,
            reference=reference, facts=chain.EntryFacts(), created_at=created_at,
            postings=tuple(postings.get(entry_id, ())),
        )
        entry_hash = hash_chain.chain_hash(prev_hash, entry)
        connection.execute(
            sa.text("UPDATE journal_entries SET seq = :seq, prev_hash = :prev, hash = :hash WHERE id = :id"),
            {"seq": seq, "prev": prev_hash, "hash": entry_hash, "id": entry_id},
        )
        prev_hash = entry_hash
    op.execute("ALTER TABLE journal_entries ENABLE TRIGGER journal_entries_append_only")
    return len(entries)


def downgrade() -> None:
    for index in (
        "journal_entries_stripe_balance_transaction_id", "journal_entries_payment_id", "journal_entries_hash",
        "journal_entries_seq",
    ):
        op.drop_index(index, "journal_entries")
    for column in (
        "stripe_balance_transaction_id", "fact_amount_minor", "dispute_id", "payment_id", "hash", "prev_hash", "seq",
    ):
        op.drop_column("journal_entries", column)
