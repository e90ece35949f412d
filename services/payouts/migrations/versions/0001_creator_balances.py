"""creator balances projection, outbox and inbox

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from common.tables import create_messaging_tables, drop_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables(op)
    op.create_table(
        "creator_balances",
        sa.Column("creator_id", sa.Text, primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("available_minor", sa.BigInteger, nullable=False),
        sa.Column("disputed_minor", sa.BigInteger, nullable=False),
        sa.Column("reserved_minor", sa.BigInteger, nullable=False),
        sa.Column("debt_minor", sa.BigInteger, nullable=False),
        sa.Column("journal_entry_id", sa.Text, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("creator_balances")
    drop_messaging_tables(op)
