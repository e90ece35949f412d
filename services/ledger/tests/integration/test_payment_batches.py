"""payment.succeeded applied set-based: a batch of payments is posted in a number
of statements that does not grow with it, and leaves exactly the rows applying
the same events one by one leaves (the journal and its chain, postings, balance
rows, payment terms, BalanceChanged events), duplicates and refused events
included. Real PostgreSQL and Kafka throughout."""

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from common.applying import Delivery, EventApplier
from common.consumers import EventConsumer, RetryPolicy
from common.db import Database
from common.kafka import encode, make_producer
from contracts.envelope import Event
from contracts.events.payments import PaymentSucceeded, PaymentSucceededData
from contracts.topics import dlq
from ledger.handlers import handlers
from ledger.settings import Settings
from services.ledger.tests.integration.ledger_cli import run_ledger
from tests.support.statements import statements_run


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




async def test_a_batch_leaves_exactly_the_rows_its_payments_leave_one_by_one(scratch_ledger, other_scratch_ledger):
    (one_url, one_by_one), (batch_url, batched) = scratch_ledger, other_scratch_ledger
    earlier = payments(2, "earlier")  # the batches' entries chain onto entries already there
    for events in (earlier, payments(3, "three"), payments(30, "thirty")):
        await apply_one_by_one(one_by_one, events)
        await apply_as_one_batch(batched, events)

    expected, found = await ledger_rows(one_by_one), await ledger_rows(batched)
    assert len(found["journal"]) == 35 and len(found["postings"]) == 105 and len(found["announced"]) == 35
    for table in expected:
        assert found[table] == expected[table], table
    await assert_journal_sound(one_url)
    await assert_journal_sound(batch_url)


async def test_each_announced_balance_is_the_one_its_entry_left(other_scratch_ledger):
    _, database = other_scratch_ledger
    first, second, elsewhere, third = (payment("c_running", "pay_run_1", 1000), payment("c_running", "pay_run_2", 2000),
                                       payment("c_other", "pay_run_3", 500), payment("c_running", "pay_run_4", 3000))
    await apply_as_one_batch(database, [first, second, elsewhere, third])

    announced = [(row[3], row[6]["available_minor"]) for row in (await ledger_rows(database))["announced"]]
    assert announced == [
        (str(first.event_id), 850), (str(second.event_id), 850 + 1700),
        (str(elsewhere.event_id), 425), (str(third.event_id), 850 + 1700 + 2550),
    ]


async def test_a_payment_posted_before_or_twice_in_the_batch_is_posted_once(scratch_ledger, other_scratch_ledger):
    (_, one_by_one), (batch_url, batched) = scratch_ledger, other_scratch_ledger
    posted_before = payment("c_dup", "pay_dup_before", 4000)
    twice, once = payment("c_dup", "pay_dup_twice", 5000), payment("c_dup_other", "pay_dup_once", 6000)
    batch = [again(posted_before), twice, once, again(twice)]
    for database, apply in ((one_by_one, apply_one_by_one), (batched, apply_as_one_batch)):
        await apply(database, [posted_before])
        await apply(database, batch)

    rows = await ledger_rows(batched)
    assert rows == await ledger_rows(one_by_one)
    assert [entry[0] for entry in rows["journal"]] == [posted_before.event_id, twice.event_id, once.event_id]
    assert [term[0] for term in rows["terms"]] == ["pay_dup_before", "pay_dup_once", "pay_dup_twice"]
    assert [row[3] for row in rows["announced"]] == [str(posted_before.event_id), str(twice.event_id),
                                                    str(once.event_id)]
    assert ("creator:c_dup:available", "EUR", -(3400 + 4250)) in rows["balances"]
    await assert_journal_sound(batch_url)


async def test_the_statements_of_a_batch_do_not_grow_with_its_size(scratch_ledger):
    _, database = scratch_ledger
    await apply_as_one_batch(database, payments(1, "warm"))  # the connection's first-use queries are not counted
    counts = {}
    for size in (1, 3, 30):
        with statements_run(database) as sent:
            await apply_as_one_batch(database, payments(size, f"count{size}"))
        counts[size] = len(sent)
    print(f"\nSQL statements per batch of payment.succeeded events, by batch size: {counts}")
    assert counts[30] == counts[3] == counts[1], counts


async def test_impossible_amounts_are_dead_lettered_and_the_rest_of_the_batch_applied(infra, scratch_ledger):
    url, database = scratch_ledger
    refused = payment("c_poison", "pay_poison", 10000, share=12000)
    before, after = payment("c_poison", "pay_fine_1", 3000), payment("c_poison", "pay_fine_2", 4000)
    elsewhere = payment("c_poison_other", "pay_fine_3", 5000)
    batch = [before, refused, after, elsewhere]
    async with ledger_consumer(infra, database) as consumer:
        await consumer.apply_batch(records(batch))

    rows = await ledger_rows(database)
    applied = (before, after, elsewhere)  # `after` once the refused one is dead-lettered: a key's order holds
    assert sorted(str(entry[0]) for entry in rows["journal"]) == sorted(str(e.event_id) for e in applied)
    assert [term[0] for term in rows["terms"]] == ["pay_fine_1", "pay_fine_2", "pay_fine_3"]
    assert sorted(row[3] for row in rows["announced"]) == sorted(str(e.event_id) for e in applied)
    assert ("creator:c_poison:available", "EUR", -(2550 + 3400)) in rows["balances"]
    headers = await dead_lettered(infra, refused)
    assert headers["x-error-type"] == b"InvalidAmounts"
    assert b"share 12000 is more than the price 10000" in headers["x-error"]
    assert headers["x-attempts"] == b"1"  # a rule error is not retried
    await assert_journal_sound(url)


async def dead_lettered(infra, event: Event, timeout: float = 30.0) -> dict[str, bytes]:
    """The headers of `event`'s record on its dead-letter topic."""
    consumer = AIOKafkaConsumer(dlq(event.TOPIC), **infra.kafka.client_options(), auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                # other tests dead-letter records of their own there, some not even JSON
                for record in records:
                    wanted = str(event.event_id)
                    if wanted.encode() in record.value and json.loads(record.value)["event_id"] == wanted:
                        return dict(record.headers)
    finally:
        await consumer.stop()
    raise AssertionError(f"{event.event_id} never reached {dlq(event.TOPIC)}")
