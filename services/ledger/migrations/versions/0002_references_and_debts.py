"""journal entry references (unique per kind) and the debts projection

Revision ID: 0002
Revises: 0001

Adding a column is DDL: the append-only row triggers of 0001 stay as they are
(they refuse UPDATE, DELETE and TRUNCATE, not ALTER). Entries posted before this
revision keep a NULL reference.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("journal_entries", sa.Column("reference", sa.Text, nullable=True))
    op.create_index(
        "journal_entries_kind_reference",
        "journal_entries",
        ["kind", "reference"],
        unique=True,
        postgresql_where=sa.text("reference IS NOT NULL"),
    )
    # Debts change (remaining, status) as payouts deduct them: a projection of
    # the journal's creator:{id}:debt accounts, not part of the append-only journal.
    op.create_table(
        "debts",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("creator_id", sa.Text, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("cause_type", sa.Text, nullable=False),
        sa.Column("cause_id", sa.Text, nullable=False),
        sa.Column("entry_id", UUID(as_uuid=True), sa.ForeignKey("journal_entries.id"), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("remaining_minor", sa.BigInteger, nullable=False),
        sa.Column("reversed_minor", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.clock_timestamp()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.clock_timestamp()),
        sa.UniqueConstraint("cause_type", "cause_id", name="debts_one_per_cause"),
        sa.CheckConstraint("cause_type IN ('refund', 'dispute')", name="debts_cause_type"),
        sa.CheckConstraint(
            "status IN ('OPEN', 'PARTIALLY_DEDUCTED', 'SETTLED', 'REVERSED')", name="debts_status"
        ),
        sa.CheckConstraint(
            "amount_minor > 0 AND remaining_minor >= 0 AND reversed_minor >= 0 "
            "AND remaining_minor + reversed_minor <= amount_minor",
            name="debts_amounts",
        ),
    )
    op.create_index("debts_creator_currency_status", "debts", ["creator_id", "currency", "status"])


def downgrade() -> None:
    op.drop_table("debts")
    op.drop_index("journal_entries_kind_reference", table_name="journal_entries")
    op.drop_column("journal_entries", "reference")
