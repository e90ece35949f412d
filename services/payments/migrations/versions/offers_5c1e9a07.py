"""offers: the catalogue whose price an intent snapshots; payments NEEDS_REVIEW

Revision ID: offers_5c1e9a07
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "offers_5c1e9a07"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("creator_id", sa.Text, nullable=False, index=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("price_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("price_minor > 0", name="offers_price_positive"),
    )
    op.add_column("payments", sa.Column("review_reason", sa.Text, nullable=True))
    op.drop_constraint("payments_status_known", "payments", type_="check")
    op.create_check_constraint(
        "payments_status_known", "payments", "status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'NEEDS_REVIEW')"
    )


def downgrade() -> None:
    op.drop_constraint("payments_status_known", "payments", type_="check")
    op.create_check_constraint("payments_status_known", "payments", "status IN ('PENDING', 'SUCCEEDED', 'FAILED')")
    op.drop_column("payments", "review_reason")
    op.drop_table("offers")
