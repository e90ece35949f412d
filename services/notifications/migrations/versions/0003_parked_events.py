"""parked_events: events read before the one they build on (common.parking)

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from common.tables import create_messaging_tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables(op)  # creates only the missing messaging table


def downgrade() -> None:
    op.drop_table("parked_events")
