"""Two instances of a service run two outbox relays against one database: every
row is still published once, and each key's events in the order they were written."""

import asyncio
import json
from collections import defaultdict

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer

from common import outbox
from common.db import Database
from common.kafka import make_producer
from common.outbox import OutboxRelay
from common.tables import outbox as outbox_table

from tests.support.polling import eventually
from tests.support.probe import probe_event, probe_model

KEYS = [f"creator-{n}" for n in range(8)]
EVENTS_PER_KEY = 40


async def _write_while_relaying(db: Database, model) -> list:
    """Many small transactions, as a busy service writes them, interleaved across keys."""
    written = []
    for round_ in range(EVENTS_PER_KEY // 4):
        for key in KEYS:
            events = [probe_event(model, key=key) for _ in range(4)]
            async with db.transaction() as session:
                for event in events:
                    await outbox.add(session, event)
            written += events
        await asyncio.sleep(0.01 * (round_ % 3))
    return written


async def _read(infra, topic: str, expect: int) -> list:
    consumer = AIOKafkaConsumer(topic, **infra.kafka.client_options(), auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records: list = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        # Read past `expect` for a while too: a duplicate would arrive late.
        quiet_until = None
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
            if len(records) >= expect:
                quiet_until = quiet_until or loop.time() + 2
                if loop.time() > quiet_until:
                    break
    finally:
        await consumer.stop()
    return records


async def test_two_relays_on_one_database_publish_each_row_once_in_key_order(infra, probe_db, probe_topic) -> None:
    model = probe_model(probe_topic)
    # Each relay as a separate instance would have it: its own pool, its own producer;
    # small batches so the two contend for the outbox many times.
    instances = [Database(probe_db.url) for _ in range(2)]
    producers = [make_producer(infra.kafka, client_id=f"relay-{n}") for n in range(2)]
    for producer in producers:
        await producer.start()
    relays = [OutboxRelay(db, producer, batch_size=7, idle_poll_seconds=0.01, linger_seconds=0)
              for db, producer in zip(instances, producers, strict=True)]
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    try:
        written = await _write_while_relaying(probe_db, model)

        async def all_sent() -> bool:
            async with probe_db.transaction() as session:
                unsent = await session.scalar(sa.select(sa.func.count()).select_from(outbox_table).where(
                    outbox_table.c.topic == probe_topic, outbox_table.c.sent_at.is_(None)))
            return unsent == 0

        await eventually(all_sent, timeout=60)
    finally:
        for relay in relays:
            relay.stop()
        await asyncio.gather(*tasks)
        for producer in producers:
            await producer.stop()
        for db in instances:
            await db.dispose()

    records = await _read(infra, probe_topic, expect=len(written))
    published = [json.loads(record.value)["event_id"] for record in records]
    assert len(published) == len(set(published)), "a row was published twice"
    assert sorted(published) == sorted(str(event.event_id) for event in written)
    per_key: dict[str, list[str]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        per_key[record.key.decode()].append(json.loads(record.value)["event_id"])
    expected: dict[str, list[str]] = defaultdict(list)
    for event in written:
        expected[event.key().decode()].append(str(event.event_id))
    assert per_key == expected
