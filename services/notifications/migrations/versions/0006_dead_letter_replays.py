"""dead_letter_replays: the audit of dead letters replayed (common.dead_letters)

Revision ID: 0006_dead_letter_replays
Revises: 5e0c3a7d91b2
"""

from alembic import op

from common.tables import create_messaging_tables

revision = "0006_dead_letter_replays"
down_revision = "5e0c3a7d91b2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables(op)  # creates only the missing messaging table


def downgrade() -> None:
    op.drop_table("dead_letter_replays")
