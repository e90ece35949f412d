"""contacts: how long the role a call showed is believed

Revision ID: 5e0c3a7d91b2
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "5e0c3a7d91b2"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Roles remembered before this change are already expired: each person's next
    # call states their role again (an admin then gets the admins' emails again).
    op.add_column("contacts", sa.Column("role_expires_at", sa.DateTime(timezone=True), nullable=False,
                                        server_default=sa.func.now()))


def downgrade() -> None:
    op.drop_column("contacts", "role_expires_at")
