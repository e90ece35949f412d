"""notifications, outbox and inbox

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
        "notifications",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("recipient_user_id", sa.Text, nullable=True),
        sa.Column("recipient_role", sa.Text, nullable=True),
        sa.Column(
            "recipient_key",
            sa.Text,
            sa.Computed(
                "CASE WHEN recipient_user_id IS NOT NULL THEN 'user:' || recipient_user_id "
                "ELSE 'role:' || recipient_role END",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=True),
        sa.Column("source_event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("source_event_id", "recipient_key", name="notifications_once_per_recipient"),
        sa.CheckConstraint(
            "(recipient_user_id IS NULL) <> (recipient_role IS NULL)", name="notifications_one_recipient"
        ),
    )
    op.create_index("notifications_by_recipient", "notifications", ["recipient_key", "created_at", "id"])


def downgrade() -> None:
    op.drop_table("notifications")
    drop_messaging_tables(op)
