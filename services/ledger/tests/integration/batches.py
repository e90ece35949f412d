"""What the ledger's batch tests share: events, applying them as one batch or
one by one, the consumer that redoes a refused batch record by record, and
every row the events left (to compare a batch with one by one)."""

import asyncio
import json
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from aiokafka.structs import ConsumerRecord

from common.applying import Delivery, EventApplier
from common.consumers import EventConsumer, RetryPolicy
from common.db import Database
from common.kafka import encode, make_producer
from contracts.envelope import Event
from contracts.events.payments import PaymentSucceeded, PaymentSucceededData
from ledger.handlers import handlers
from ledger.settings import Settings
from services.ledger.tests.integration.ledger_cli import run_ledger


def payment(creator: str, payment_id: str, price: int, currency: str = "EUR",
            share: int | None = None) -> PaymentSucceeded:
    share = math.ceil(price * 8500 / 10000) if share is None else share
    return PaymentSucceeded.new(
        PaymentSucceededData(
            payment_id=payment_id, fan_id="fan_batch", creator_id=creator, price_minor=price,
            creator_share_minor=share, platform_fee_minor=max(price - share, 0), currency=currency,
            stripe_payment_intent_id=f"pi_{payment_id}", succeeded_at=datetime.now(UTC),
        ),
        producer="payments", creator_id=creator,
    )


def payments(count: int, tag: str) -> list[PaymentSucceeded]:
    """`count` payments over a few creators (most with several payments in the
    batch, one in two currencies), at prices whose 85 % rounds both ways."""
    creators = [f"c_{tag}_{n}" for n in range(max(1, count // 4))]
    return [
        payment(creators[n % len(creators)], f"pay_{tag}_{n}", 999 + 137 * n, "USD" if n % 5 == 3 else "EUR")
        for n in range(count)
    ]


def again(paid: PaymentSucceeded) -> PaymentSucceeded:
    """The same payment announced once more, under another event id."""
    return PaymentSucceeded.new(paid.data, producer="payments", creator_id=paid.data.creator_id)


def deliveries(events: Sequence[Event]) -> list[Delivery]:
    return [Delivery(event.TOPIC, event, encode(event)) for event in events]


async def apply_as_one_batch(database: Database, events: Sequence[Event]) -> None:
    """As the consumer's fast path applies a batch: one transaction, the inbox claim, one pass."""
    async with database.transaction() as session:
        await EventApplier(handlers, Settings()).apply_all(session, deliveries(events))


async def apply_one_by_one(database: Database, events: Sequence[Event]) -> None:
    for event in events:
        await apply_as_one_batch(database, [event])


def records(events: Sequence[Event]) -> tuple[ConsumerRecord, ...]:
    """The events as the consumer reads them from Kafka, in this order."""
    return tuple(
        ConsumerRecord(topic=event.TOPIC, partition=0, offset=offset, timestamp=0, timestamp_type=0,
                       key=event.key(), value=encode(event), checksum=None, serialized_key_size=-1,
                       serialized_value_size=-1, headers=[])
        for offset, event in enumerate(events)
    )


@asynccontextmanager
async def ledger_consumer(infra, database: Database) -> AsyncIterator[EventConsumer]:
    """The ledger's consumer on `database`: a batch it cannot apply at once is
    redone record by record and a refused event dead-lettered (no retries for a rule error)."""
    dead_letters = make_producer(infra.kafka, client_id="ledger-batch-test")
    await dead_letters.start()
    try:
        yield EventConsumer(group_id="ledger", handlers=handlers, needs=Settings(), db=database,
                            dead_letters=dead_letters, retry=RetryPolicy(max_retries=1), concurrency=1)
    finally:
        await dead_letters.stop()


async def ledger_rows(database: Database) -> dict[str, list]:
    """Every row the events left, in chain and id order, with what differs by
    nature between two databases (entry and debt ids, hashes, timestamps,
    emitted event ids) replaced by what caused it (an entry's event, a debt's cause)."""
    async with database.transaction() as session:
        entries = (await session.execute(sa.text(
            "SELECT id, cause_event_id, kind, creator_id, reference, payment_id, dispute_id, fact_amount_minor,"
            " stripe_balance_transaction_id FROM journal_entries ORDER BY seq"
        ))).all()
        cause_of = {str(row.id): row.cause_event_id for row in entries}
        postings = (await session.execute(sa.text(
            "SELECT entry_id, account, currency, amount_minor FROM postings ORDER BY id"
        ))).all()
        balances = (await session.execute(sa.text(
            "SELECT account, currency, balance_minor FROM account_balances ORDER BY account, currency"
        ))).all()
        terms = (await session.execute(sa.text(
            "SELECT payment_id, creator_id, currency, price_minor, creator_share_minor FROM payment_terms"
            " ORDER BY payment_id"
        ))).all()
        takebacks = (await session.execute(sa.text(
            "SELECT reference, payment_id, kind, amount_minor, status FROM payment_takebacks ORDER BY reference"
        ))).all()
        # In the order payouts deduct them.
        debts = (await session.execute(sa.text(
            "SELECT id, creator_id, currency, cause_type, cause_id, entry_id, amount_minor, remaining_minor,"
            " reversed_minor, status FROM debts ORDER BY created_at, id"
        ))).all()
        debt_of = {str(row.id): (row.cause_type, row.cause_id) for row in debts}
        parked = (await session.execute(sa.text(
            "SELECT event_id, topic, waits_for FROM parked_events ORDER BY id"
        ))).all()
        emitted = (await session.execute(sa.text("SELECT topic, key, payload FROM outbox ORDER BY id"))).all()
    announced = []
    for topic, key, payload in emitted:
        event = json.loads(payload)
        data = dict(event["data"])
        if "journal_entry_id" in data:
            data["journal_entry_id"] = cause_of[data["journal_entry_id"]]  # the entry, by its cause
        if "debt_id" in data:
            data["debt_id"] = debt_of[data["debt_id"]]
        announced.append((topic, key, event["event_type"], event["causation_id"], event["correlation_id"],
                          event["creator_id"], data))
    return {
        "journal": [tuple(row)[1:] for row in entries],
        "postings": [(cause_of[str(entry_id)], *rest) for entry_id, *rest in postings],
        "balances": [tuple(row) for row in balances],
        "terms": [tuple(row) for row in terms],
        "takebacks": [tuple(row) for row in takebacks],
        "debts": [(row.creator_id, row.currency, row.cause_type, row.cause_id, cause_of[str(row.entry_id)],
                   row.amount_minor, row.remaining_minor, row.reversed_minor, row.status) for row in debts],
        "parked": [tuple(row) for row in parked],
        "announced": announced,
    }


async def assert_journal_sound(url: str) -> None:
    for command in ("verify-journal", "check"):
        result = await asyncio.to_thread(run_ledger, url, command)
        assert result.returncode == 0, f"ledger {command}: {result.stdout}{result.stderr}"
