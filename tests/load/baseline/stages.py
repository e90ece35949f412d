"""The baseline's four stages. Each applies a batch of messages in one
transaction with a number of statements that does not grow with the batch
(its inbox claim, its writes, each one statement over arrays), then commits
its Kafka offsets.

    CALLASTAR_BASELINE_DSN=postgresql://... python -m tests.load.baseline.stages <stage>

What a stage emits is produced, and acknowledged by every replica, before its
transaction commits: a crash after the produce and before the commit makes the
batch come again and be emitted again under the same event ids, which the next
stage's inbox drops; a crash after the commit and before the offset commit
finds the batch claimed in the inbox and its emissions already out. So nothing
is lost and nothing is applied twice, without an outbox table.
"""

import asyncio
import json
import os
import sys
from collections import defaultdict
from collections.abc import Awaitable, Callable

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.load.baseline import topics

DSN = "CALLASTAR_BASELINE_DSN"
STRIPE_BALANCE = "stripe:balance"
PLATFORM_REVENUE = "platform:revenue"

Emit = tuple[str, str, dict]  # topic, key, message
Apply = Callable[[asyncpg.Connection, list[dict], topics.Topics], Awaitable[list[Emit]]]

CLAIM = "INSERT INTO inbox (event_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING event_id"


async def claim(connection: asyncpg.Connection, messages: list[dict], id_of: Callable[[dict], str]) -> list[dict]:
    """The messages this stage has not applied yet, each once (a batch may hold one twice)."""
    fresh = {row[0] for row in await connection.fetch(CLAIM, [id_of(m) for m in messages])}
    firsts = []
    for message in messages:
        if id_of(message) in fresh:
            fresh.discard(id_of(message))
            firsts.append(message)
    return firsts


# ---- payments: the Stripe event marks the payment succeeded ------------------------

SUCCEED = """
    UPDATE payments p SET status = 'succeeded', stripe_charge_id = u.charge, succeeded_at = now()
    FROM unnest($1::text[], $2::text[]) AS u(intent, charge)
    WHERE p.stripe_payment_intent_id = u.intent AND p.status = 'pending'
    RETURNING p.payment_id, p.fan_id, p.creator_id, p.price_minor, p.creator_share_minor, p.currency,
              p.stripe_payment_intent_id, p.succeeded_at"""


async def apply_payments(connection: asyncpg.Connection, events: list[dict], to: topics.Topics) -> list[Emit]:
    succeeded = [e for e in events if e["type"] == "payment_intent.succeeded"]
    charges: dict[str, str | None] = {}  # payment intent -> charge
    for event in await claim(connection, succeeded, lambda e: e["id"]):
        intent = event["data"]["object"]
        charges.setdefault(intent["id"], intent.get("latest_charge"))
    rows = await connection.fetch(SUCCEED, list(charges), list(charges.values())) if charges else []
    return [(to.payment_succeeded, row["creator_id"], {
        "event_id": f"payment-succeeded:{row['payment_id']}", "payment_id": row["payment_id"],
        "fan_id": row["fan_id"], "creator_id": row["creator_id"], "price_minor": row["price_minor"],
        "creator_share_minor": row["creator_share_minor"], "currency": row["currency"],
        "stripe_payment_intent_id": row["stripe_payment_intent_id"],
        "succeeded_at": row["succeeded_at"].isoformat()}) for row in rows]


# ---- ledger: an entry with three postings, the balance rows, the creator's balance announced

ENTRIES = """
    INSERT INTO journal_entries (cause_event_id, kind, reference, creator_id, currency)
    SELECT cause, 'payment', reference, creator, currency
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(cause, reference, creator, currency)
    RETURNING id, cause_event_id"""
POSTINGS = """
    INSERT INTO postings (entry_id, account, amount_minor, currency)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[])"""
BALANCES = """
    INSERT INTO account_balances (account, currency, balance_minor)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
    ON CONFLICT (account, currency)
    DO UPDATE SET balance_minor = account_balances.balance_minor + excluded.balance_minor
    RETURNING account, currency, balance_minor"""


def creator_available(creator_id: str) -> str:
    return f"creator:{creator_id}:available"


def payment_postings(payment: dict) -> list[tuple[str, int]]:
    """The suite's: the fan's money at Stripe, the creator's share owed, the platform's rest."""
    price, share = payment["price_minor"], payment["creator_share_minor"]
    return [(STRIPE_BALANCE, price), (creator_available(payment["creator_id"]), -share),
            (PLATFORM_REVENUE, share - price)]


def columns(rows: list[tuple]) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)]


async def apply_ledger(connection: asyncpg.Connection, payments: list[dict], to: topics.Topics) -> list[Emit]:
    payments = await claim(connection, payments, lambda p: p["event_id"])
    if not payments:
        return []
    entry_rows = await connection.fetch(ENTRIES, *columns(
        [(p["event_id"], f"payment:{p['payment_id']}", p["creator_id"], p["currency"]) for p in payments]))
    entry_of = {row["cause_event_id"]: row["id"] for row in entry_rows}
    payments.sort(key=lambda p: entry_of[p["event_id"]])
    postings, deltas = [], defaultdict(int)
    for payment in payments:
        for account, amount in payment_postings(payment):
            postings.append((entry_of[payment["event_id"]], account, amount, payment["currency"]))
            deltas[(account, payment["currency"])] += amount
    await connection.execute(POSTINGS, *columns(postings))
    # In key order, so that two writers would lock the rows in one order.
    balances = await connection.fetch(BALANCES, *columns([(*key, delta) for key, delta in sorted(deltas.items())]))
    after_batch = {(row["account"], row["currency"]): row["balance_minor"] for row in balances}
    # Each entry announces the creator's balance just after it: the balance after
    # the batch, less what the creator's later entries of the batch added.
    announced, later = [], defaultdict(int)
    for payment in reversed(payments):
        key = (creator_available(payment["creator_id"]), payment["currency"])
        entry_id = entry_of[payment["event_id"]]
        announced.append((to.balance_changed, payment["creator_id"], {
            "event_id": f"balance-changed:{entry_id}", "creator_id": payment["creator_id"],
            "currency": payment["currency"], "available_minor": -(after_batch[key] - later[key]),
            "journal_entry_id": entry_id}))
        later[key] += -payment["creator_share_minor"]
    return announced[::-1]


# ---- notifications: one row for the creator ------------------------------------------

NOTIFY = """
    INSERT INTO notifications (source_event_id, recipient_key, kind, body)
    SELECT source, recipient, 'payment_received', body::jsonb
    FROM unnest($1::text[], $2::text[], $3::text[]) AS u(source, recipient, body)
    ON CONFLICT (source_event_id, recipient_key) DO NOTHING"""


async def apply_notifications(connection: asyncpg.Connection, payments: list[dict], _: topics.Topics) -> list[Emit]:
    payments = await claim(connection, payments, lambda p: p["event_id"])
    if payments:
        await connection.execute(NOTIFY, *columns([(p["event_id"], f"user:{p['creator_id']}", json.dumps({
            "payment_id": p["payment_id"], "price_minor": p["price_minor"], "currency": p["currency"]}))
            for p in payments]))
    return []


# ---- payouts: the creator's balance projection -------------------------------------------

PROJECT = """
    INSERT INTO creator_balances (creator_id, currency, available_minor, journal_entry_id, source_event_id)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[])
    ON CONFLICT (creator_id, currency) DO UPDATE SET
        available_minor = excluded.available_minor, journal_entry_id = excluded.journal_entry_id,
        source_event_id = excluded.source_event_id, updated_at = now()
    WHERE creator_balances.journal_entry_id < excluded.journal_entry_id"""


async def apply_payouts(connection: asyncpg.Connection, changes: list[dict], _: topics.Topics) -> list[Emit]:
    latest: dict[tuple[str, str], dict] = {}  # one row per key: an upsert may touch a row once
    for change in await claim(connection, changes, lambda c: c["event_id"]):
        key = (change["creator_id"], change["currency"])
        if key not in latest or latest[key]["journal_entry_id"] < change["journal_entry_id"]:
            latest[key] = change
    if latest:
        await connection.execute(PROJECT, *columns([
            (c["creator_id"], c["currency"], c["available_minor"], c["journal_entry_id"], c["event_id"])
            for _, c in sorted(latest.items())]))
    return []


STAGES: dict[str, tuple[Callable[[topics.Topics], str], Apply]] = {
    "payments": (lambda t: t.stripe_events, apply_payments),
    "ledger": (lambda t: t.payment_succeeded, apply_ledger),
    "notifications": (lambda t: t.payment_succeeded, apply_notifications),
    "payouts": (lambda t: t.balance_changed, apply_payouts),
}


async def run(stage: str) -> None:
    env = dict(os.environ)
    to = topics.Topics(env[topics.PREFIX])
    consumed, apply = STAGES[stage]
    # The suite's consumer settings: up to 500 records, fetches held up to 100 ms so batches fill.
    consumer = AIOKafkaConsumer(consumed(to), **topics.client_options(env), group_id=to.group(stage),
                                enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=100)
    producer = AIOKafkaProducer(**topics.client_options(env), client_id=f"baseline-{stage}", acks="all",
                                enable_idempotence=True, linger_ms=5)
    connection = await asyncpg.connect(env[DSN])
    await consumer.start()
    await producer.start()
    ready = False
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            if not ready and consumer.assignment():
                print("ready", flush=True)  # the launcher waits for this line
                ready = True
            records = [record for batch in batches.values() for record in batch]
            if not records:
                continue
            async with connection.transaction():
                emitted = await apply(connection, [json.loads(record.value) for record in records], to)
                sent = [await producer.send(topic, json.dumps(message).encode(), key=key.encode())
                        for topic, key, message in emitted]
                await asyncio.gather(*sent)
            await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
        await connection.close()


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1]))
