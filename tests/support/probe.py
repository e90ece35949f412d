"""A throw-away event, database and consumer for proving delivery guarantees
against the real Kafka and PostgreSQL, free of any service's business rules.

Run as a script it is a consumer process that can be made to die right after
its database commit (`--crash-on EVENT_ID`), before the offset is committed.
"""

import argparse
import asyncio
import os
import uuid
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker

from common import consumers, parking
from common.applying import Applying, EventHandlers, PermanentError
from common.consumers import RetryPolicy
from common.db import Database
from common.kafka import KafkaAccess, make_producer
from common.tables import messaging_metadata
from contracts.envelope import Event, EventData
from contracts.topics import dlq

probe_metadata = sa.MetaData()
effects = sa.Table(
    "probe_effects",
    probe_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.Uuid, nullable=False),  # deliberately not unique: duplicates would show
    sa.Column("key", sa.Text, nullable=False),
)

POISON = "poison"


class ProbeData(EventData):
    key: str
    behaviour: str = "ok"  # "ok" or POISON (always raises) or "permanent"
    waits_for: str | None = None  # applied only once a probe with this key was


def probe_model(topic: str) -> type[Event]:
    return type("ProbeEvent", (Event[ProbeData],), {"TOPIC": topic, "__module__": __name__})


def probe_event(model: type[Event], key: str, behaviour: str = "ok", waits_for: str | None = None) -> Event:
    return model.new(ProbeData(key=key, behaviour=behaviour, waits_for=waits_for), producer="probe", creator_id=key)


def probe_handlers(model: type[Event], on_applied: Callable[[Event], None] | None = None) -> EventHandlers:
    handlers = EventHandlers()

    @handlers.on(model)
    async def on_probes(events: Sequence[Event], applying: Applying[None]) -> None:
        for event in events:  # a probe's work is per event: it tests the consumer, not set-based writes
            await on_probe(event, applying)

    async def on_probe(event: Event, applying: Applying[None]) -> None:
        session = applying.session
        if event.data.behaviour == POISON:
            raise RuntimeError(f"probe {event.event_id} always fails")
        if event.data.behaviour == "permanent":
            raise PermanentError("probe refuses this event for good")
        if event.data.waits_for and not await session.scalar(
            sa.select(sa.func.count()).select_from(effects).where(effects.c.key == event.data.waits_for)
        ):
            raise parking.NotReady(waits_for=event.data.waits_for, event_id=event.event_id)
        await session.execute(sa.insert(effects).values(event_id=event.event_id, key=event.data.key))
        applying.ready(event.data.key)
        if on_applied:
            on_applied(event)

    return handlers


async def create_topics(kafka: KafkaAccess, topic: str, partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, partitions, 1) for name in (topic, dlq(topic))]
        )
    finally:
        await admin.close()


async def create_tables(db: Database) -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(messaging_metadata.create_all)
        await connection.run_sync(probe_metadata.create_all)


async def effect_count(db: Database, event_id: uuid.UUID) -> int:
    async with db.transaction() as session:
        return await session.scalar(
            sa.select(sa.func.count()).select_from(effects).where(effects.c.event_id == event_id)
        )


class ProbeConsumer:
    """The common consumer wiring around the probe handler, in this process."""

    def __init__(
        self,
        db: Database,
        kafka: KafkaAccess,
        topic: str,
        group_id: str,
        *,
        max_retries: int = 2,
        on_applied: Callable[[Event], None] | None = None,
    ) -> None:
        self.db = db
        self.producer = make_producer(kafka, client_id="probe-dlq")
        self.broker = KafkaBroker(kafka.bootstrap_servers, security=kafka.security(), logger=None)
        consumers.subscribe(
            self.broker,
            probe_handlers(probe_model(topic), on_applied),
            needs=None,
            group_id=group_id,
            db=db,
            dead_letters=self.producer,
            retry=RetryPolicy(max_retries=max_retries, first_backoff_seconds=0.05),
        )

    async def __aenter__(self) -> "ProbeConsumer":
        await self.producer.start()
        await self.broker.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.broker.stop()
        await self.producer.stop()


async def _run_consumer(args: argparse.Namespace) -> None:
    db = Database(args.database_url)
    crash_on = uuid.UUID(args.crash_on) if args.crash_on else None

    def crash_after_commit(event: Event) -> None:
        if event.event_id == crash_on:
            # Dies after the database commit and before Kafka's offset commit.
            db.after_commit(lambda _committed: os._exit(17))

    kafka = KafkaAccess(args.bootstrap, os.environ["CALLASTAR_KAFKA_USERNAME"], os.environ["CALLASTAR_KAFKA_PASSWORD"])
    async with ProbeConsumer(db, kafka, args.topic, args.group, on_applied=crash_after_commit):
        await asyncio.Event().wait()  # until the test terminates us


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--crash-on")
    asyncio.run(_run_consumer(parser.parse_args()))
