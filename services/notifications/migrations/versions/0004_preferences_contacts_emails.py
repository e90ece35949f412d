"""preferences, contacts, email deliveries; deletions per reader

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_deletions",
        sa.Column("notification_id", UUID(as_uuid=True),
                  sa.ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("notification_id", "user_id", name="notification_deletions_pkey"),
    )
    # Deleting is per reader now (an admin deletes an admins' notification for
    # themselves); the row-wide column was never set by any route.
    op.drop_column("notifications", "deleted_at")
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("in_app", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("email", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("user_id", "type", name="notification_preferences_pkey"),
    )
    op.create_table(
        "contacts",
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("contacts_by_role", "contacts", ["role"])
    op.create_table(
        "email_deliveries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("notification_id", UUID(as_uuid=True),
                  sa.ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("to_address", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="PENDING"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("notification_id", "user_id", name="email_deliveries_once_per_person"),
        sa.CheckConstraint("status IN ('PENDING', 'SENT', 'FAILED')", name="email_deliveries_status"),
    )
    op.create_index("email_deliveries_due", "email_deliveries", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'PENDING'"))
    # Retention deletes by age.
    op.create_index("notifications_by_age", "notifications", ["created_at"])


def downgrade() -> None:
    op.drop_index("notifications_by_age", "notifications")
    op.drop_table("email_deliveries")
    op.drop_table("contacts")
    op.drop_table("notification_preferences")
    op.add_column("notifications", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_table("notification_deletions")
