"""Delivery guarantees of the common messaging layer, against real Kafka and
PostgreSQL: exactly-once effects over at-least-once delivery."""

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from common import outbox
from common.applying import Delivery, EventApplier, EventHandlers, ReadTooEarly
from common.kafka import KafkaAccess, encode, make_producer
from common.outbox import OutboxRelay
from common.tables import outbox as outbox_table
from common.tables import parked_events
from contracts.topics import dlq

from tests.support import probe
from tests.support.polling import eventually

from tests.support.probe import (
    POISON,
    ProbeConsumer,
    effect_count,
    effects,
    probe_event,
    probe_handlers,
    probe_model,
)

PROBE_SCRIPT = Path(probe.__file__)


async def publish_raw(kafka: KafkaAccess, topic: str, events, copies: int = 1) -> None:
    producer = make_producer(kafka, client_id="probe-test")
    await producer.start()
    try:
        sends = [
            producer.send_and_wait(topic, encode(event), key=event.key())
            for event in events
            for _ in range(copies)
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def read_all(kafka: KafkaAccess, topic: str, *, expect: int, timeout: float = 20.0):
    consumer = AIOKafkaConsumer(topic, **kafka.client_options(), auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def test_redelivered_event_is_applied_once(infra, probe_db, probe_topic) -> None:
    model = probe_model(probe_topic)
    event = probe_event(model, key="creator-a")
    await publish_raw(infra.kafka, probe_topic, [event], copies=5)

    async with ProbeConsumer(probe_db, infra.kafka, probe_topic, "g-redelivery"):
        await eventually(lambda: effect_count(probe_db, event.event_id))
        later = probe_event(model, key="creator-a")
        await publish_raw(infra.kafka, probe_topic, [later])
        await eventually(lambda: effect_count(probe_db, later.event_id))

    assert await effect_count(probe_db, event.event_id) == 1


async def test_a_batch_is_applied_in_one_pass_each_event_once_with_what_it_emits(infra, probe_db, probe_topic) -> None:
    # The one-pass path raises on any failure (the consumer then redoes the
    # batch record by record): calling it directly proves it works on its own.
    model = probe_model(probe_topic)
    handlers = EventHandlers()

    @handlers.on(model)
    async def apply_and_emit(events, applying) -> None:
        for event in events:
            await applying.session.execute(sa.insert(effects).values(event_id=event.event_id, key=event.data.key))
            await outbox.add(applying.session, probe_event(model, key=f"emitted-by-{event.event_id}"))

    events = [probe_event(model, key=f"batch-{n}") for n in range(3)]
    applier = EventApplier(handlers, None)
    batch = [Delivery(probe_topic, event, encode(event)) for event in [*events, events[0]]]
    async with probe_db.transaction() as session:
        await applier.apply_all(session, batch)
    async with probe_db.transaction() as session:
        await applier.apply_all(session, batch[:2])  # applied before: changes nothing

    assert [await effect_count(probe_db, event.event_id) for event in events] == [1, 1, 1]
    async with probe_db.transaction() as session:
        # Taken out again: the database's outbox is shared with the relay tests.
        emitted = await session.execute(sa.delete(outbox_table).where(
            outbox_table.c.key.in_([f"emitted-by-{event.event_id}".encode() for event in events])))
    assert emitted.rowcount == 3


async def test_an_event_read_before_its_prerequisite_in_one_pass_is_parked_then_applied_with_the_batch(
        infra, probe_db, probe_topic) -> None:
    model = probe_model(probe_topic)
    early = probe_event(model, key="pass-early", waits_for="pass-first")
    first = probe_event(model, key="pass-first")
    batch = [Delivery(probe_topic, event, encode(event)) for event in (early, first)]
    applier = EventApplier(probe_handlers(model), None)
    with pytest.raises(ReadTooEarly) as raised:
        async with probe_db.transaction() as session:
            await applier.apply_all(session, batch)
    assert (raised.value.event_id, raised.value.waits_for) == (early.event_id, "pass-first")
    assert await effect_count(probe_db, first.event_id) == 0  # the pass was rolled back whole

    async with probe_db.transaction() as session:
        await applier.apply_all(session, batch, {early.event_id: "pass-first"})

    # Parked at its place, released by its prerequisite in the same transaction.
    assert [await effect_count(probe_db, e.event_id) for e in (early, first)] == [1, 1]
    async with probe_db.transaction() as session:
        assert not await session.scalar(sa.select(sa.func.count()).select_from(parked_events)
                                        .where(parked_events.c.event_id == early.event_id))


async def test_poison_message_goes_to_dlq_while_other_keys_keep_flowing(infra, probe_db, probe_topic) -> None:
    model = probe_model(probe_topic)
    poison = probe_event(model, key="creator-poison", behaviour=POISON)
    healthy = [probe_event(model, key=f"creator-{n}") for n in range(5)]

    async with ProbeConsumer(probe_db, infra.kafka, probe_topic, "g-dlq", max_retries=2):
        await publish_raw(infra.kafka, probe_topic, [poison, *healthy])
        for event in healthy:
            await eventually(lambda event=event: effect_count(probe_db, event.event_id))
        parked = await read_all(infra.kafka, dlq(probe_topic), expect=1)
        # one more message after the poison one is still applied
        after = probe_event(model, key="creator-poison")
        await publish_raw(infra.kafka, probe_topic, [after])
        await eventually(lambda: effect_count(probe_db, after.event_id))

    assert len(parked) == 1
    record = parked[0]
    headers = {k: v.decode() for k, v in record.headers}
    assert record.value == encode(poison)  # the original message, byte for byte
    assert record.key == b"creator-poison"
    assert headers["x-original-topic"] == probe_topic
    assert headers["x-attempts"] == "3"  # the first try and 2 retries
    assert "always fails" in headers["x-error"]
    assert await effect_count(probe_db, poison.event_id) == 0


async def test_permanent_error_is_dead_lettered_without_retries(infra, probe_db, probe_topic) -> None:
    model = probe_model(probe_topic)
    refused = probe_event(model, key="creator-x", behaviour="permanent")
    async with ProbeConsumer(probe_db, infra.kafka, probe_topic, "g-permanent", max_retries=5):
        await publish_raw(infra.kafka, probe_topic, [refused])
        parked = await read_all(infra.kafka, dlq(probe_topic), expect=1)
    headers = {k: v.decode() for k, v in parked[0].headers}
    assert (headers["x-error-type"], headers["x-attempts"]) == ("PermanentError", "1")


async def test_message_that_is_not_a_valid_event_is_dead_lettered(infra, probe_db, probe_topic) -> None:
    model = probe_model(probe_topic)
    fine = probe_event(model, key="creator-y")
    producer = make_producer(infra.kafka, client_id="probe-test")
    await producer.start()
    await producer.send_and_wait(probe_topic, b'{"not": "an event"', key=b"creator-y")
    await producer.stop()
    async with ProbeConsumer(probe_db, infra.kafka, probe_topic, "g-malformed"):
        await publish_raw(infra.kafka, probe_topic, [fine])
        await eventually(lambda: effect_count(probe_db, fine.event_id))
        parked = await read_all(infra.kafka, dlq(probe_topic), expect=1)
    assert parked[0].value == b'{"not": "an event"'
    assert dict(parked[0].headers)["x-error-type"] == b"ValidationError"


async def committed_offset(kafka: KafkaAccess, group: str, topic: str, partition: int) -> int:
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    meta = offsets.get(TopicPartition(topic, partition))
    return meta.offset if meta else -1


def start_probe_process(infra, probe_db, topic: str, group: str, crash_on: uuid.UUID | None):
    args = [sys.executable, str(PROBE_SCRIPT), "--database-url", probe_db.url,
            "--bootstrap", infra.kafka_bootstrap, "--topic", topic, "--group", group]
    if crash_on:
        args += ["--crash-on", str(crash_on)]
    return subprocess.Popen(args, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


async def test_consumer_crash_after_db_commit_rereads_and_changes_nothing(infra, probe_db, probe_topic) -> None:
    model = probe_model(probe_topic)
    event = probe_event(model, key="creator-crash")
    producer = make_producer(infra.kafka, client_id="probe-test")
    await producer.start()
    sent = await producer.send_and_wait(probe_topic, encode(event), key=event.key())
    await producer.stop()

    crashing = start_probe_process(infra, probe_db, probe_topic, "g-crash", crash_on=event.event_id)
    exit_code = await asyncio.to_thread(crashing.wait, 60)
    assert exit_code == 17, "the consumer should die right after its database commit"
    assert await effect_count(probe_db, event.event_id) == 1
    # The offset of the applied message was never committed...
    assert await committed_offset(infra.kafka, "g-crash", probe_topic, sent.partition) <= sent.offset

    restarted = start_probe_process(infra, probe_db, probe_topic, "g-crash", crash_on=None)
    try:
        # ...so the restarted consumer reads it again and commits past it,
        async def moved_past() -> bool:
            offset = await committed_offset(infra.kafka, "g-crash", probe_topic, sent.partition)
            return offset > sent.offset

        await eventually(moved_past, timeout=60)
    finally:
        restarted.terminate()
        await asyncio.to_thread(restarted.wait, 30)
    # ...and the second reading changed nothing.
    assert await effect_count(probe_db, event.event_id) == 1


async def test_relay_crash_after_publish_republishes_and_consumers_apply_once(infra, probe_db, probe_topic) -> None:
    model = probe_model(probe_topic)
    event = probe_event(model, key="creator-relay")
    async with probe_db.transaction() as session:
        await outbox.add(session, event)

    def crash_before_marking_sent(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("UPDATE OUTBOX"):
            raise RuntimeError("relay dies between publish and mark-sent")

    producer = make_producer(infra.kafka, client_id="probe-relay")
    await producer.start()
    relay = OutboxRelay(probe_db, producer)
    try:
        sa.event.listen(probe_db.engine.sync_engine, "before_cursor_execute", crash_before_marking_sent)
        try:
            with pytest.raises(RuntimeError, match="mark-sent"):
                await relay.publish_pending()
        finally:
            sa.event.remove(probe_db.engine.sync_engine, "before_cursor_execute", crash_before_marking_sent)
        assert await relay.publish_pending() == 1  # the row was still unsent: published again
        assert await relay.publish_pending() == 0  # and now marked sent
    finally:
        await producer.stop()

    copies = await read_all(infra.kafka, probe_topic, expect=2)
    assert [r.value for r in copies] == [encode(event)] * 2
    async with ProbeConsumer(probe_db, infra.kafka, probe_topic, "g-relay"):
        await eventually(lambda: effect_count(probe_db, event.event_id))
        marker = probe_event(model, key="creator-relay")
        await publish_raw(infra.kafka, probe_topic, [marker])
        await eventually(lambda: effect_count(probe_db, marker.event_id))
    assert await effect_count(probe_db, event.event_id) == 1


async def test_rolled_back_change_publishes_nothing(infra, probe_db, probe_topic) -> None:
    event = probe_event(probe_model(probe_topic), key="creator-rollback")
    with pytest.raises(RuntimeError):
        async with probe_db.transaction() as session:
            await outbox.add(session, event)
            raise RuntimeError("the state change fails")
    producer = make_producer(infra.kafka, client_id="probe-relay")
    await producer.start()
    try:
        assert await OutboxRelay(probe_db, producer).publish_pending() == 0
    finally:
        await producer.stop()


async def test_event_read_before_its_prerequisite_waits_parked_then_applies(infra, probe_db, probe_topic) -> None:
    model = probe_model(probe_topic)
    first = probe_event(model, key="creator-first")
    early = probe_event(model, key="creator-early", waits_for="creator-first")
    async with ProbeConsumer(probe_db, infra.kafka, probe_topic, "g-parking"):
        await publish_raw(infra.kafka, probe_topic, [early])

        async def parked() -> bool:
            async with probe_db.transaction() as session:
                return await session.scalar(sa.select(sa.func.count()).select_from(parked_events)
                                            .where(parked_events.c.event_id == early.event_id)) == 1

        await eventually(parked)
        assert await effect_count(probe_db, early.event_id) == 0
        await publish_raw(infra.kafka, probe_topic, [first])
        await eventually(lambda: effect_count(probe_db, early.event_id))
    assert await effect_count(probe_db, first.event_id) == 1
    assert not await parked()
