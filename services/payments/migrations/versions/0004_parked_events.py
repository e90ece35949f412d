"""parked_events: events read before the one they build on (common.parking)

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from common.tables import create_messaging_tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables(op)  # creates only the missing messaging table


def downgrade() -> None:
    op.drop_table("parked_events")
