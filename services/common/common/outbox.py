"""Transactional outbox: events are rows written with the state change; a relay
publishes them to Kafka afterwards and marks them sent."""

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer
from sqlalchemy import BigInteger, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from common import tracing
from common.db import Database
from common.kafka import encode
from common.tables import outbox
from contracts.envelope import Event

log = logging.getLogger(__name__)


WRITTEN = "outbox.written"
_BUFFER = "outbox.buffer"

# One statement text whatever the number of rows, so it is compiled and
# prepared once; the rows go as one pipelined executemany.
_INSERT = insert(outbox)
_MARK_SENT = (
    update(outbox)
    .where(outbox.c.id == func.any(bindparam("ids", type_=ARRAY(BigInteger))))
    .values(sent_at=func.now())
)


async def add(session: AsyncSession, event: Event) -> None:
    """Queue `event` in the caller's transaction: it is published iff that commits."""
    await add_many(session, [event])


async def add_many(session: AsyncSession, events: Sequence[Event]) -> None:
    """Queue `events`, in this order, in the caller's transaction: one statement
    whatever their number (none inside `written_together`, which writes them with
    the rest)."""
    if not events:
        return
    session.info[WRITTEN] = True
    rows = [{"event_id": event.event_id, "topic": event.TOPIC, "key": event.key(), "payload": encode(event),
             "trace_context": tracing.carrier_for(event.correlation_id)} for event in events]
    buffer = session.info.get(_BUFFER)
    if buffer is not None:
        buffer.extend(rows)
    else:
        await session.execute(_INSERT, rows)


@asynccontextmanager
async def written_together(session: AsyncSession) -> AsyncIterator[None]:
    """Within this block `add` keeps the rows in memory; they are written in one
    statement when the block ends normally, still inside the transaction, so
    they stand or fall with it. No savepoint may be opened inside the block
    (rolling one back could not take back rows not written yet); an exception
    drops the rows, and the caller must roll the transaction back."""
    session.info[_BUFFER] = rows = []
    try:
        yield
    finally:
        del session.info[_BUFFER]
    if rows:
        await session.execute(_INSERT, rows)


class OutboxRelay:
    """Publishes unsent outbox rows in id order, then marks them sent.

    At most one relay per database publishes at a time (a transaction-scoped
    advisory lock), so replicas of a service never reorder one key's events.
    A crash after publishing and before marking sent republishes those rows:
    consumers drop the duplicates through their inbox.
    """

    LOCK_ID = 0x0CA11A57  # any constant; one outbox per database

    def __init__(
        self,
        db: Database,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 500,
        idle_poll_seconds: float = 0.5,
        linger_seconds: float = 0.005,
    ) -> None:
        self._db = db
        self._producer = producer
        self._batch_size = batch_size
        self._idle_poll = idle_poll_seconds
        self._linger = linger_seconds
        self._wake = asyncio.Event()
        self._stopping = False

    def wake_if_written(self, committed: dict) -> None:
        """After a commit: publish now if that transaction queued events. (Only
        then: the relay's own commits must not wake it, or it spins.)"""
        if committed.get(WRITTEN):
            self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many rows it sent."""
        async with self._db.transaction() as session:
            locked = await session.scalar(select(func.pg_try_advisory_xact_lock(self.LOCK_ID)))
            if not locked:
                return 0
            rows = (
                await session.execute(
                    select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.payload, outbox.c.trace_context)
                    .where(outbox.c.sent_at.is_(None))
                    .order_by(outbox.c.id)
                    .limit(self._batch_size)
                )
            ).all()
            if not rows:
                return 0
            # send() only enqueues, in call order; awaiting the futures afterwards
            # pipelines the batch while the idempotent producer keeps the order.
            deliveries = [
                await self._producer.send(row.topic, row.payload, key=row.key,
                                          headers=tracing.kafka_headers(row.trace_context))
                for row in rows
            ]
            await asyncio.gather(*deliveries)
            await session.execute(_MARK_SENT, {"ids": [row.id for row in rows]})
            return len(rows)

    def stop(self) -> None:
        """Make `run` do one last pass and return: cancelling it instead could cut a pass
        between publishing and marking sent, and another instance would publish those
        rows again."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()  # before publishing: a wake-up during it is not lost
            try:
                while await self.publish_pending() == self._batch_size:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                # Kafka or the database is away: keep the rows, try again later.
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1.0)
            if self._stopping:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), self._idle_poll)
                # Under load commits come in bursts: a few ms of waiting lets one
                # pass publish the burst instead of one pass per commit.
                await asyncio.sleep(self._linger)
            except TimeoutError:
                pass

