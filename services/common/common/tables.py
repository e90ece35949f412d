"""The outbox and inbox tables (and the other tables of the messaging layer). Every service's database has both; each service's
first Alembic migration creates them with `create_messaging_tables`."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

messaging_metadata = sa.MetaData()

outbox = sa.Table(
    "outbox",
    messaging_metadata,
    # The serial id is the publish order: per-key order is kept because rows are
    # published in id order by a single relay at a time.
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("key", sa.LargeBinary, nullable=True),
    sa.Column("payload", sa.LargeBinary, nullable=False),  # the exact JSON bytes sent
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    # The W3C trace context of the transaction that wrote the row (common.tracing),
    # sent as the record's headers; NULL when tracing is off.
    sa.Column("trace_context", JSONB, nullable=True),
    sa.Index("outbox_unsent", "id", postgresql_where=sa.text("sent_at IS NULL")),
)

inbox = sa.Table(
    "inbox",
    messaging_metadata,
    sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# Events waiting for the event they build on (see common.parking).
parked_events = sa.Table(
    "parked_events",
    messaging_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("waits_for", sa.Text, nullable=False, index=True),
    sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)


# Every replay of a dead letter (common.dead_letters): who, when, which message, outcome.
# A message replayed with success (applied, or dropped by the inbox as a duplicate)
# is never replayed again: the partial unique index refuses a second such row.
dead_letter_replays = sa.Table(
    "dead_letter_replays",
    messaging_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("dlq_topic", sa.Text, nullable=False),
    sa.Column("dlq_partition", sa.Integer, nullable=False),
    sa.Column("dlq_offset", sa.BigInteger, nullable=False),
    sa.Column("event_id", UUID(as_uuid=True), nullable=True),
    sa.Column("replayed_by", sa.Text, nullable=False),
    sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("outcome", sa.Text, nullable=False),  # applied | duplicate | failed
    sa.Column("detail", sa.Text, nullable=True),
    sa.Index("dead_letter_replayed_once", "dlq_topic", "dlq_partition", "dlq_offset", unique=True,
             postgresql_where=sa.text("outcome <> 'failed'")),
)


def create_messaging_tables(op) -> None:  # noqa: ANN001 - alembic's `op` proxy
    """Create the outbox, inbox and parked_events tables that are missing, inside
    an Alembic migration (a later migration may call it again to add new ones)."""
    bind = op.get_bind()
    messaging_metadata.create_all(bind, checkfirst=True)


def add_outbox_trace_context(op) -> None:  # noqa: ANN001
    """The outbox's trace_context column, for a database whose outbox predates it."""
    op.execute("ALTER TABLE outbox ADD COLUMN IF NOT EXISTS trace_context jsonb")


def drop_messaging_tables(op) -> None:  # noqa: ANN001
    messaging_metadata.drop_all(op.get_bind(), checkfirst=True)
