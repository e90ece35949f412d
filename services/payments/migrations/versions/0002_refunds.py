"""refunds, and the payment's running refund / taken-back / fee totals

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Succeeded refunds only; pending ones are summed from the refunds table.
    op.add_column("payments", sa.Column("refunded_minor", sa.BigInteger, nullable=False, server_default="0"))
    # t of the cumulative clawback: succeeded refunds + disputed amounts not won.
    op.add_column("payments", sa.Column("taken_back_minor", sa.BigInteger, nullable=False, server_default="0"))
    op.add_column("payments", sa.Column("stripe_fee_minor", sa.BigInteger, nullable=True))
    op.add_column("payments", sa.Column("stripe_fee_currency", sa.String(3), nullable=True))
    op.add_column("payments", sa.Column("stripe_balance_transaction_id", sa.Text, nullable=True))
    op.create_check_constraint(
        "payments_refunds_within_price",
        "payments",
        "refunded_minor >= 0 AND taken_back_minor >= 0 AND taken_back_minor <= price_minor "
        "AND refunded_minor <= taken_back_minor",
    )
    op.create_table(
        "refunds",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("payment_id", UUID(as_uuid=True), sa.ForeignKey("payments.id"), nullable=False, index=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("stripe_refund_id", sa.Text, nullable=True, unique=True),
        # What this refund took from the creator while it counted as succeeded.
        sa.Column("creator_clawback_minor", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("failure_reason", sa.Text, nullable=True),
        sa.Column("requested_by", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(
            "status IN ('PENDING', 'REQUIRES_ACTION', 'SUCCEEDED', 'FAILED', 'CANCELED')",
            name="refunds_status_known",
        ),
        sa.CheckConstraint("amount_minor > 0", name="refunds_amount_positive"),
        sa.CheckConstraint("creator_clawback_minor >= 0", name="refunds_clawback_not_negative"),
    )


def downgrade() -> None:
    op.drop_table("refunds")
    op.drop_constraint("payments_refunds_within_price", "payments", type_="check")
    for column in ("stripe_balance_transaction_id", "stripe_fee_currency", "stripe_fee_minor", "taken_back_minor", "refunded_minor"):
        op.drop_column("payments", column)
