"""The ledger's operator commands run as an operator does, and a journal written past the code."""

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import asyncpg

from common.hash_chain import GENESIS_HASH, chain_hash
from ledger.domain.chain import ChainedEntry, EntryFacts
from ledger.domain import Posting, net_by_account


def run_ledger(url: str, *command: str) -> subprocess.CompletedProcess:
    """`python -m ledger <command>` against the database at `url`."""
    env = {**os.environ, "CALLASTAR_LEDGER_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "ledger", *command], env=env, capture_output=True, text=True, timeout=120
    )


async def append_unchecked_entry(
    connection: asyncpg.Connection, *, kind: str, creator_id: str | None, postings: list[Posting],
    facts: EntryFacts = EntryFacts(), reference: str | None = None,
) -> uuid.UUID:
    """Append what the code never would (an unbalanced entry, say) with its chain
    link computed as post_entries does: only the invariant under test is broken.
    Inserts are what the runtime role may do; the journal's triggers refuse the rest."""
    prev_hash = await connection.fetchval("SELECT hash FROM journal_entries ORDER BY seq DESC LIMIT 1")
    prev_hash = prev_hash or GENESIS_HASH
    entry = ChainedEntry(
        id=str(uuid.uuid4()), cause_event_id=str(uuid.uuid4()), kind=kind, creator_id=creator_id,
        reference=reference, facts=facts, created_at=datetime.now(UTC), postings=tuple(postings),
    )
    await connection.execute(
        "INSERT INTO journal_entries (id, cause_event_id, kind, creator_id, reference, created_at, prev_hash, hash,"
        " payment_id, dispute_id, fact_amount_minor, stripe_balance_transaction_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        uuid.UUID(entry.id), uuid.UUID(entry.cause_event_id), kind, creator_id, reference, entry.created_at,
        prev_hash, chain_hash(prev_hash, entry), facts.payment_id, facts.dispute_id, facts.fact_amount_minor,
        facts.stripe_balance_transaction_id,
    )
    await connection.executemany(
        "INSERT INTO postings (entry_id, account, currency, amount_minor) VALUES ($1, $2, $3, $4)",
        [(uuid.UUID(entry.id), p.account, p.currency, p.amount_minor) for p in postings],
    )
    await connection.executemany(
        "INSERT INTO account_balances (account, currency, balance_minor) VALUES ($1, $2, $3) "
        "ON CONFLICT (account, currency) DO UPDATE SET balance_minor = account_balances.balance_minor + $3",
        [(account, currency, amount) for (account, currency), amount in net_by_account(postings).items()],
    )
    return uuid.UUID(entry.id)


def asyncpg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")
