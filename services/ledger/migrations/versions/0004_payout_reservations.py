"""payout_reservations: the ledger's answer to each payout request

Revision ID: 0004
Revises: 0003

A projection beside the append-only journal (its status changes as the payout
moves on): sum(net_minor) of RESERVED rows == creator:{id}:reserved per currency.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payout_reservations",
        sa.Column("payout_id", sa.Text, primary_key=True),
        sa.Column("creator_id", sa.Text, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("gross_minor", sa.BigInteger, nullable=False),
        sa.Column("debt_deducted_minor", sa.BigInteger, nullable=False),
        sa.Column("net_minor", sa.BigInteger, nullable=False),
        sa.Column("deductions", JSONB, nullable=False, server_default="[]"),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("refusal_reason", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.clock_timestamp()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.clock_timestamp()),
        sa.CheckConstraint(
            "status IN ('RESERVED', 'REFUSED', 'RELEASED', 'PAID', 'FAILED')", name="payout_reservations_status"
        ),
        sa.CheckConstraint(
            "debt_deducted_minor >= 0 AND net_minor >= 0 AND gross_minor = debt_deducted_minor + net_minor",
            name="payout_reservations_amounts",
        ),
        sa.CheckConstraint(
            "(status = 'REFUSED') = (refusal_reason IS NOT NULL)", name="payout_reservations_refusal_reason"
        ),
    )
    op.create_index("payout_reservations_creator_currency", "payout_reservations", ["creator_id", "currency", "status"])


def downgrade() -> None:
    op.drop_table("payout_reservations")
