"""notification_reads: read state per reader, so each admin reads a role's notification alone

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
    op.create_table(
        "notification_reads",
        sa.Column("notification_id", UUID(as_uuid=True),
                  sa.ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        # The key also answers "has this user read it?" for the unread queries.
        sa.PrimaryKeyConstraint("notification_id", "user_id", name="notification_reads_pkey"),
    )
    # A user's own notification was read on its row; one place for all reads now.
    op.execute(
        "INSERT INTO notification_reads (notification_id, user_id, read_at) "
        "SELECT id, recipient_user_id, read_at FROM notifications "
        "WHERE read_at IS NOT NULL AND recipient_user_id IS NOT NULL"
    )
    op.drop_column("notifications", "read_at")


def downgrade() -> None:
    op.add_column("notifications", sa.Column("read_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE notifications n SET read_at = r.read_at FROM notification_reads r "
        "WHERE r.notification_id = n.id AND r.user_id = n.recipient_user_id"
    )
    op.drop_table("notification_reads")
