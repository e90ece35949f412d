"""payment_terms and payment_takebacks: the facts a creator's entitlement on a payment is computed from

Revision ID: 7e1c0a5e0005
Revises: 0004

Every refund or dispute movement posts the difference of the creator's
entitlement (ledger.domain.entitlement) before and after it, from the payment's
totals: its price and share (payment_terms, one row per posted payment) and
its refunds and disputes with their status (payment_takebacks). Terms are
backfilled from the payments already in the journal; refunds and disputes
posted before this revision cannot be tied to their payment from the journal
(their entries name only the refund or dispute), so they are not counted.
"""

import sqlalchemy as sa
from alembic import op

revision = "7e1c0a5e0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_terms",
        sa.Column("payment_id", sa.Text, primary_key=True),
        sa.Column("creator_id", sa.Text, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("price_minor", sa.BigInteger, nullable=False),
        sa.Column("creator_share_minor", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.clock_timestamp()),
        sa.CheckConstraint("0 <= creator_share_minor AND creator_share_minor <= price_minor",
                           name="payment_terms_amounts"),
    )
    op.create_table(
        "payment_takebacks",
        sa.Column("reference", sa.Text, primary_key=True),
        sa.Column("payment_id", sa.Text, sa.ForeignKey("payment_terms.payment_id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.clock_timestamp()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.clock_timestamp()),
        sa.CheckConstraint("amount_minor >= 0", name="payment_takebacks_amount"),
        sa.CheckConstraint(
            "(kind = 'refund' AND status IN ('REFUNDED', 'FAILED'))"
            " OR (kind = 'dispute' AND status IN ('OPEN', 'WON', 'LOST'))",
            name="payment_takebacks_status",
        ),
    )
    op.create_index("ix_payment_takebacks_payment_id", "payment_takebacks", ["payment_id"])
    # A payment entry: stripe:balance +price, creator:<id>:available -share (the
    # account name is spelled in two pieces: ":available" would read as a bind parameter).
    op.execute(
        """
        INSERT INTO payment_terms (payment_id, creator_id, currency, price_minor, creator_share_minor)
        SELECT substr(e.reference, length('payment:') + 1), e.creator_id, min(p.currency),
               sum(p.amount_minor) FILTER (WHERE p.account = 'stripe:balance'),
               -sum(p.amount_minor) FILTER (WHERE p.account = 'creator:' || e.creator_id || ':' || 'available')
        FROM journal_entries e JOIN postings p ON p.entry_id = e.id
        WHERE e.kind = 'payment' AND e.reference LIKE 'payment:%'
        GROUP BY e.id, e.reference, e.creator_id
        ON CONFLICT DO NOTHING
        """
    )


def downgrade() -> None:
    op.drop_table("payment_takebacks")
    op.drop_table("payment_terms")
