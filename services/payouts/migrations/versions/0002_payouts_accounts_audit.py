"""payout accounts, payouts, the append-only hash-chained audit log, parked events

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from common.tables import create_messaging_tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    create_messaging_tables(op)  # creates only the missing ones (parked_events)
    op.create_table(
        "payout_accounts",
        sa.Column("creator_id", sa.Text, primary_key=True),
        sa.Column("stripe_account_id", sa.Text, unique=True),
        sa.Column("payouts_enabled", sa.Boolean, nullable=False),
        sa.Column("charges_enabled", sa.Boolean, nullable=False),
        sa.Column("details_submitted", sa.Boolean, nullable=False),
        sa.Column("requirements", JSONB, nullable=False),
        sa.Column("stripe_event_created", sa.BigInteger),
        *_timestamps(),
    )
    op.create_table(
        "payouts",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("creator_id", sa.Text, nullable=False, index=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("all_available", sa.Boolean, nullable=False),
        sa.Column("requested_minor", sa.BigInteger),
        sa.Column("minimum_minor", sa.BigInteger, nullable=False),
        sa.Column("gross_minor", sa.BigInteger),
        sa.Column("debt_deducted_minor", sa.BigInteger),
        sa.Column("net_minor", sa.BigInteger),
        sa.Column("state", sa.Text, nullable=False, index=True),
        sa.Column("funds_reserved", sa.Boolean, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("reason_detail", sa.Text),
        sa.Column("approved_by", sa.Text),
        sa.Column("stripe_account_id", sa.Text),
        sa.Column("stripe_transfer_id", sa.Text),
        sa.Column("stripe_payout_id", sa.Text, unique=True),
        sa.Column("stripe_reversal_id", sa.Text),
        sa.Column("stripe_claimed_at", sa.DateTime(timezone=True)),
        sa.Column("stripe_error_code", sa.Text),
        sa.Column("stripe_error_message", sa.Text),
        sa.Column("failure_code", sa.Text),
        sa.Column("failure_message", sa.Text),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        *_timestamps(),
        sa.UniqueConstraint("creator_id", "idempotency_key"),
        sa.CheckConstraint("requested_minor IS NULL OR requested_minor > 0", name="payouts_requested_positive"),
        sa.CheckConstraint(
            "net_minor IS NULL OR net_minor = gross_minor - debt_deducted_minor", name="payouts_net_is_gross_less_debt"
        ),
    )
    op.create_index("payouts_created_at_id", "payouts", ["created_at", "id"])
    op.create_table(
        "payout_audit",
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("payout_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("actor_id", sa.Text, nullable=False),
        sa.Column("actor_role", sa.Text, nullable=False),
        sa.Column("old_state", sa.Text),
        sa.Column("new_state", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("metadata", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.CheckConstraint("actor_role IN ('admin', 'creator', 'stripe', 'system')", name="payout_audit_actor_role"),
    )
    # The database itself keeps the trail append-only: whoever connects, an
    # UPDATE, DELETE or TRUNCATE fails (only the table's owner could disable
    # the trigger, and the hash chain would then show the change).
    op.execute(
        """
        CREATE FUNCTION payout_audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'payout_audit is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER payout_audit_no_update_delete BEFORE UPDATE OR DELETE ON payout_audit "
        "FOR EACH ROW EXECUTE FUNCTION payout_audit_is_append_only()"
    )
    op.execute(
        "CREATE TRIGGER payout_audit_no_truncate BEFORE TRUNCATE ON payout_audit "
        "FOR EACH STATEMENT EXECUTE FUNCTION payout_audit_is_append_only()"
    )


def downgrade() -> None:
    op.drop_table("payout_audit")
    op.execute("DROP FUNCTION payout_audit_is_append_only()")
    op.drop_index("payouts_created_at_id", "payouts")
    op.drop_table("payouts")
    op.drop_table("payout_accounts")
    op.drop_table("parked_events")
