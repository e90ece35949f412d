"""disputes

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("payment_id", UUID(as_uuid=True), sa.ForeignKey("payments.id"), nullable=False, index=True),
        sa.Column("creator_id", sa.Text, nullable=False, index=True),
        sa.Column("stripe_dispute_id", sa.Text, nullable=False, unique=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("evidence_due_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("observed_at", sa.BigInteger, nullable=False),
        sa.Column("creator_share_minor", sa.BigInteger, nullable=True),
        sa.Column("taken_back_minor", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("balance_transaction_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("amount_minor > 0", name="disputes_amount_positive"),
        sa.CheckConstraint("creator_share_minor >= 0 AND taken_back_minor >= 0", name="disputes_share_not_negative"),
        sa.CheckConstraint("outcome IN ('won', 'lost')", name="disputes_outcome_known"),
        sa.CheckConstraint("closed OR outcome IS NULL", name="disputes_outcome_only_when_closed"),
    )
    # The admin list's sort orders, with the id as the cursor's tie-break.
    op.create_index("disputes_created_at_id", "disputes", ["created_at", "id"])
    op.create_index("disputes_amount_id", "disputes", ["amount_minor", "id"])


def downgrade() -> None:
    op.drop_table("disputes")
