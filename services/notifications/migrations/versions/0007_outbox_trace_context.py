"""outbox.trace_context: the W3C trace context an event is published with

Revision ID: 0007_outbox_trace_context
Revises: 0006_dead_letter_replays
"""

from alembic import op

from common.tables import add_outbox_trace_context

revision = "0007_outbox_trace_context"
down_revision = "0006_dead_letter_replays"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_trace_context(op)


def downgrade() -> None:
    op.drop_column("outbox", "trace_context")
