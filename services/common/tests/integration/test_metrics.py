"""The consumer and messaging metrics of common.metrics, from the real consumer
wiring against Kafka and PostgreSQL (the probe service of tests.support.probe)."""

import uuid

import sqlalchemy as sa
from prometheus_client import REGISTRY

from common import metrics
from common.kafka import make_producer, publish
from common.tables import outbox, parked_events
from tests.support.polling import eventually
from tests.support.probe import POISON, ProbeConsumer, effect_count, probe_event, probe_model


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_retries_dead_letters_batches_and_lag_are_counted(infra, probe_db, probe_topic) -> None:
    model = probe_model(probe_topic)
    poison, healthy = probe_event(model, key="creator-poison", behaviour=POISON), probe_event(model, key="creator-ok")
    group = f"g-metrics-{uuid.uuid4().hex[:6]}"
    async with ProbeConsumer(probe_db, infra.kafka, probe_topic, group, max_retries=2) as consumer:
        producer = make_producer(infra.kafka, client_id="probe-test")
        await producer.start()
        try:
            await publish(producer, poison)
            await publish(producer, healthy)
        finally:
            await producer.stop()
        await eventually(lambda: effect_count(probe_db, healthy.event_id))

        def dead_lettered() -> float:
            return sum(value("callastar_consumer_dead_letters_total", group=group, topic=probe_topic, partition=str(p))
                       for p in range(16))

        await eventually(lambda: _true(dead_lettered() == 1))
        retries = sum(value("callastar_consumer_retries_total", group=group, topic=probe_topic, partition=str(p))
                      for p in range(16))
        assert retries == 2  # the first try alone, then 2 retries, then the DLQ
        # observed once the batch is done, just after its dead-letter
        await eventually(lambda: _true(value("callastar_consumer_batch_size_sum", group=group) >= 2))
        assert value("callastar_consumer_batch_apply_seconds_count", group=group) >= 1

        async def lag_reported() -> list:
            await metrics.consumer_lag(consumer.broker)()
            return [sample for family in metrics.CONSUMER_LAG.collect() for sample in family.samples
                    if sample.labels["group"] == group]

        lag = await eventually(lag_reported)
        assert {sample.labels["topic"] for sample in lag} == {probe_topic}
        assert all(sample.value == 0 for sample in lag)  # caught up


async def _true(condition: bool) -> bool:
    return condition


async def test_outbox_and_parking_gauges_are_read_at_scrape(probe_db) -> None:
    event_id, parked_id = uuid.uuid4(), uuid.uuid4()
    async with probe_db.transaction() as session:
        await session.execute(sa.insert(outbox).values(
            event_id=event_id, topic="probe.never-published", key=b"k", payload=b"{}",
            created_at=sa.func.now() - sa.text("interval '1 hour'"),
        ))
        await session.execute(sa.insert(parked_events).values(
            event_id=parked_id, topic="probe.parked", payload=b"{}", waits_for="nothing",
            parked_at=sa.func.now() - sa.text("interval '2 hours'"),
        ))
    try:
        await metrics.messaging_gauges(probe_db)()
        assert value("callastar_outbox_backlog") >= 1
        assert value("callastar_outbox_oldest_unsent_age_seconds") >= 3600
        assert value("callastar_parked_events") >= 1
        assert value("callastar_parked_oldest_age_seconds") >= 7200
    finally:
        async with probe_db.transaction() as session:
            await session.execute(sa.delete(outbox).where(outbox.c.event_id == event_id))
            await session.execute(sa.delete(parked_events).where(parked_events.c.event_id == parked_id))
    await metrics.messaging_gauges(probe_db)()
    assert value("callastar_outbox_oldest_unsent_age_seconds") < 3600
