"""dead_letter_replays: the audit of dead letters replayed (common.dead_letters)

Revision ID: 0005_dead_letter_replays
Revises: offers_5c1e9a07
"""

from alembic import op

from common.tables import create_messaging_tables

revision = "0005_dead_letter_replays"
down_revision = "offers_5c1e9a07"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables(op)  # creates only the missing messaging table


def downgrade() -> None:
    op.drop_table("dead_letter_replays")
