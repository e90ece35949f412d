"""payments, outbox and inbox

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
        "payments",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("fan_id", sa.Text, nullable=False, index=True),
        sa.Column("creator_id", sa.Text, nullable=False, index=True),
        sa.Column("offer_id", sa.Text, nullable=True),
        sa.Column("price_minor", sa.BigInteger, nullable=False),
        sa.Column("creator_share_minor", sa.BigInteger, nullable=False),
        sa.Column("platform_fee_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("stripe_payment_intent_id", sa.Text, nullable=True, unique=True),
        sa.Column("stripe_charge_id", sa.Text, nullable=True),
        sa.Column("failure_code", sa.Text, nullable=True),
        sa.Column("failure_message", sa.Text, nullable=True),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("idempotency_key", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("status IN ('PENDING', 'SUCCEEDED', 'FAILED')", name="payments_status_known"),
        sa.CheckConstraint(
            "price_minor > 0 AND creator_share_minor >= 0 AND platform_fee_minor >= 0 "
            "AND creator_share_minor + platform_fee_minor = price_minor",
            name="payments_split_adds_up",
        ),
        sa.UniqueConstraint("fan_id", "idempotency_key", name="payments_fan_idempotency_key"),
    )


def downgrade() -> None:
    op.drop_table("payments")
    drop_messaging_tables(op)
