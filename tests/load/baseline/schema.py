"""The baseline's databases, one per stage like the suite's services, and their
tables: minimal, but with the writes and the constraints that matter (an inbox
keyed by event id, the suite's unique constraints)."""

import asyncpg

STAGES = ("payments", "ledger", "notifications", "payouts")
INBOX = "CREATE TABLE inbox (event_id text PRIMARY KEY, claimed_at timestamptz NOT NULL DEFAULT now())"

TABLES: dict[str, tuple[str, ...]] = {
    "payments": (INBOX, """
        CREATE TABLE payments (
            payment_id text PRIMARY KEY,
            fan_id text NOT NULL,
            creator_id text NOT NULL,
            price_minor bigint NOT NULL,
            creator_share_minor bigint NOT NULL,
            currency text NOT NULL,
            stripe_payment_intent_id text NOT NULL UNIQUE,
            stripe_charge_id text,
            status text NOT NULL,
            succeeded_at timestamptz)"""),
    "ledger": (INBOX, """
        CREATE TABLE journal_entries (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            cause_event_id text NOT NULL UNIQUE,
            kind text NOT NULL,
            reference text NOT NULL,
            creator_id text NOT NULL,
            currency text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            UNIQUE (kind, reference))""", """
        CREATE TABLE postings (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            entry_id bigint NOT NULL REFERENCES journal_entries (id),
            account text NOT NULL,
            amount_minor bigint NOT NULL,
            currency text NOT NULL)""",
        "CREATE INDEX postings_by_entry ON postings (entry_id)", """
        CREATE TABLE account_balances (
            account text NOT NULL,
            currency text NOT NULL,
            balance_minor bigint NOT NULL,
            PRIMARY KEY (account, currency))"""),
    "notifications": (INBOX, """
        CREATE TABLE notifications (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            source_event_id text NOT NULL,
            recipient_key text NOT NULL,
            kind text NOT NULL,
            body jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (source_event_id, recipient_key))"""),
    "payouts": (INBOX, """
        CREATE TABLE creator_balances (
            creator_id text NOT NULL,
            currency text NOT NULL,
            available_minor bigint NOT NULL,
            journal_entry_id bigint NOT NULL,
            source_event_id text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (creator_id, currency))"""),
}


def database_name(stage: str) -> str:
    return f"baseline_{stage}"


def dsn_of(service_owner_dsn: str, stage: str) -> str:
    """The stage's database, reached as the owner role of the suite's service of
    the same name (in the local stacks it may create databases)."""
    return f"{service_owner_dsn.rsplit('/', 1)[0]}/{database_name(stage)}"


async def create_databases(owner_dsns: dict[str, str]) -> dict[str, str]:
    """Drop and create each stage's database with its tables; returns their DSNs.
    `owner_dsns`: per stage, the owner DSN of the suite's service of that name."""
    dsns = {}
    for stage in STAGES:
        connection = await asyncpg.connect(owner_dsns[stage])
        try:
            await connection.execute(f"DROP DATABASE IF EXISTS {database_name(stage)} WITH (FORCE)")
            await connection.execute(f"CREATE DATABASE {database_name(stage)}")
        finally:
            await connection.close()
        dsns[stage] = dsn_of(owner_dsns[stage], stage)
        connection = await asyncpg.connect(dsns[stage])
        try:
            for statement in TABLES[stage]:
                await connection.execute(statement)
        finally:
            await connection.close()
    return dsns
