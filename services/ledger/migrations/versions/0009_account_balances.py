"""each account's balance, kept with its postings

Revision ID: 0009_account_balances
Revises: 0008_outbox_trace_context

`account_balances` holds, per (account, currency), the sum of its postings,
updated in the transaction that posts them: a balance the ledger announces is
one row read, not a sum over every posting the account ever had. It starts as
the sum of the postings already there; `ledger check` compares it with the
journal.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_account_balances"
down_revision = "0008_outbox_trace_context"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_balances",
        sa.Column("account", sa.Text, primary_key=True),
        sa.Column("currency", sa.Text, primary_key=True),
        sa.Column("balance_minor", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO account_balances (account, currency, balance_minor) "
        "SELECT account, currency, SUM(amount_minor) FROM postings GROUP BY account, currency"
    )


def downgrade() -> None:
    op.drop_table("account_balances")
