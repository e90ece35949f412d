"""Kafka consumers done once for every service.

A message is validated into its contract model, then applied in one database
transaction together with its inbox claim; the Kafka offset is committed only
after that transaction commits. A failing message is retried a bounded number
of times and then parked on `<topic>.dlq` with the error, so it never blocks
its partition forever and is never dropped silently.
"""

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from common import logs, metrics
from common.applying import Delivery, EventApplier, EventHandlers, ReadTooEarly
from common.db import Database
from contracts.topics import dlq

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    first_backoff_seconds: float = 0.1

    def delays(self) -> list[float]:
        return [self.first_backoff_seconds * 2**n for n in range(self.max_retries)]


class EventConsumer:
    """Applies the records of every topic a service handles, for its group."""

    MAX_PARKED_IN_ONE_PASS = 8

    def __init__(
        self,
        *,
        group_id: str,
        handlers: EventHandlers[Any],
        needs: Any,
        db: Database,
        dead_letters: AIOKafkaProducer,
        retry: RetryPolicy,
        concurrency: int,
    ) -> None:
        self.group_id = group_id
        self._handlers = handlers
        self._applier = EventApplier(handlers, needs)
        self._db = db
        self._dead_letters = dead_letters
        self._retry = retry
        self._slots = asyncio.Semaphore(concurrency)

    async def apply_batch(self, records: tuple[ConsumerRecord, ...]) -> None:
        """Apply a batch in one transaction: one commit per batch, not per record,
        is what lets a consumer keep up on a small machine.

        First all at once (no savepoints); an event read before its
        prerequisite makes the pass start again with that event parked. If
        anything else goes wrong, the batch is redone record by record, each in
        its own savepoint; a record that fails there is rolled back, and it and
        the later records of its key are set aside and applied after the
        commit, one by one with retries, in order.
        """
        deliveries: list[tuple[ConsumerRecord, Delivery]] = []
        for record in records:
            try:
                event = self._handlers.subscriptions[record.topic].model.model_validate_json(record.value)
            except ValidationError as error:
                await self._dead_letter(record, error, attempts=1)
                continue
            deliveries.append((record, Delivery(record.topic, event, record.value, record.headers)))
        if not deliveries:
            return
        parked: dict[UUID, str] = {}
        while True:
            try:
                async with self._db.transaction() as session:
                    await self._applier.apply_all(session, [d for _, d in deliveries], parked)
                return
            except ReadTooEarly as early:
                if len(parked) < self.MAX_PARKED_IN_ONE_PASS:
                    # An event read before its prerequisite: redo the pass with it
                    # parked, far cheaper than a savepoint for every record.
                    parked[early.event_id] = early.waits_for
                    continue
                reason: Exception = early
            except Exception as error:  # noqa: BLE001 - redone carefully below
                reason = error
            log.info("batch of %s needs record-by-record care (%r)", self.group_id, reason)
            break
        by_key: dict[tuple[str, int, bytes | None], list[tuple[ConsumerRecord, Delivery]]] = defaultdict(list)
        for record, delivery in deliveries:
            by_key[(record.topic, record.partition, record.key)].append((record, delivery))
        set_aside: list[list[tuple[ConsumerRecord, Delivery]]] = []
        try:
            async with self._db.transaction() as session:
                for pending in by_key.values():
                    for position, (_, delivery) in enumerate(pending):
                        if not await self._apply_in_savepoint(session, delivery):
                            set_aside.append(pending[position:])
                            break
        except Exception:  # noqa: BLE001 - the commit itself failed: nothing of the batch stands
            log.exception("batch transaction of %s failed; applying one by one", self.group_id)
            set_aside = list(by_key.values())
        await asyncio.gather(*(self._apply_in_order(pending) for pending in set_aside))

    async def _apply_in_savepoint(self, session: AsyncSession, delivery: Delivery) -> bool:
        token = logs.correlation_id.set(delivery.event.correlation_id)
        try:
            async with session.begin_nested():
                await self._applier.apply_or_park(session, delivery)
            return True
        except Exception as error:  # noqa: BLE001 - retried on its own after the batch
            log.warning("%s %s failed in its batch (%r); retrying alone", delivery.topic, delivery.event.event_id, error)
            return False
        finally:
            logs.correlation_id.reset(token)

    async def _apply_in_order(self, pending: list[tuple[ConsumerRecord, Delivery]]) -> None:
        async with self._slots:
            for record, delivery in pending:
                token = logs.correlation_id.set(delivery.event.correlation_id)
                try:
                    await self._apply_with_retries(record, delivery)
                finally:
                    logs.correlation_id.reset(token)

    async def _apply_with_retries(self, record: ConsumerRecord, delivery: Delivery) -> None:
        delays = self._retry.delays()
        for attempt in range(1, len(delays) + 2):
            try:
                async with self._db.transaction() as session:
                    await self._applier.apply_or_park(session, delivery)
                return
            except self._handlers.permanent as error:
                await self._dead_letter(record, error, attempts=attempt)
                return
            except Exception as error:  # noqa: BLE001 - any failure is retried, then parked
                if attempt > len(delays):
                    log.exception("giving up on %s %s", delivery.topic, delivery.event.event_id)
                    await self._dead_letter(record, error, attempts=attempt)
                    return
                log.warning("retrying %s %s after %r", delivery.topic, delivery.event.event_id, error)
                metrics.CONSUMER_RETRIES.labels(self.group_id, record.topic, str(record.partition)).inc()
                await asyncio.sleep(delays[attempt - 1])

    async def _dead_letter(self, record: ConsumerRecord, error: BaseException, attempts: int) -> None:
        # If this publish fails the exception propagates, the batch is not
        # committed and Kafka redelivers it: the message is never lost.
        headers = [
            ("x-original-topic", record.topic.encode()),
            ("x-original-partition", str(record.partition).encode()),
            ("x-original-offset", str(record.offset).encode()),
            ("x-consumer-group", self.group_id.encode()),
            ("x-error-type", type(error).__name__.encode()),
            ("x-error", str(error)[:4000].encode()),
            ("x-attempts", str(attempts).encode()),
            ("x-failed-at", datetime.now(UTC).isoformat().encode()),
        ]
        log.error(
            "dead-lettering %s@%s/%s: %s", record.topic, record.partition, record.offset, error
        )
        metrics.CONSUMER_DEAD_LETTERS.labels(self.group_id, record.topic, str(record.partition)).inc()
        await self._dead_letters.send_and_wait(
            dlq(record.topic), record.value, key=record.key, headers=headers
        )


class FinishBatchBeforeHandOver(ConsumerRebalanceListener):
    """When the group rebalances (an instance joins or leaves), the partitions are taken
    from every member. A batch under way then finishes and commits its offsets before
    this member rejoins (the broker still takes commits of the old generation while the
    group prepares its rebalance): otherwise its commit would be refused and the next
    owner of its partitions would read the batch again."""

    def __init__(self, timeout_s: float) -> None:
        self.subscriber: Any = None
        self._timeout_s = timeout_s

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # FastStream holds the subscriber's lock from the fetch's hand-over to the commit.
        if (wait_release := getattr(getattr(self.subscriber, "lock", None), "wait_release", None)) is not None:
            await wait_release(self._timeout_s)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        pass


def subscribe(
    broker: KafkaBroker,
    handlers: EventHandlers[Any],
    *,
    needs: Any,
    group_id: str,
    db: Database,
    dead_letters: AIOKafkaProducer,
    retry: RetryPolicy,
    max_records: int = 500,
    concurrency: int = 8,
    fetch_max_wait_ms: int = 100,
    hand_over_timeout_s: float = 20.0,
) -> EventConsumer:
    """Attach ONE batch subscriber for every topic the service handles: one Kafka
    consumer per service instead of one per topic saves each idle consumer's
    polling and makes batches (hence transactions) bigger under load."""
    consumer = EventConsumer(
        group_id=group_id,
        handlers=handlers,
        needs=needs,
        db=db,
        dead_letters=dead_letters,
        retry=retry,
        concurrency=concurrency,
    )

    # NACK_ON_ERROR: the offsets are committed only when the whole batch has
    # been applied (or dead-lettered); on an exception the consumer seeks back
    # and the batch is read again (the inbox makes the replay harmless).
    hand_over = FinishBatchBeforeHandOver(hand_over_timeout_s)
    subscriber = broker.subscriber(
        *handlers.subscriptions,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=50,
        # The broker answers a fetch once 64 KiB are there or the wait is over:
        # under load, fewer and fuller fetches, so bigger batches and fewer
        # transactions (what a small machine keeps up with); idle, at most that
        # wait more latency per hop.
        fetch_min_bytes=64 * 1024,
        fetch_max_wait_ms=fetch_max_wait_ms,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_undecoded,
        listener=hand_over,
    )
    hand_over.subscriber = subscriber

    @subscriber
    async def consume(body: list[Any], message: KafkaMessage) -> None:
        started = time.perf_counter()
        await consumer.apply_batch(message.raw_message)
        metrics.CONSUMER_BATCH_SIZE.labels(group_id).observe(len(message.raw_message))
        metrics.CONSUMER_APPLY_SECONDS.labels(group_id).observe(time.perf_counter() - started)

    return consumer


async def _undecoded(message: Any) -> Any:
    # The records are validated into their contract models in apply_batch;
    # FastStream's own JSON decoding of every body would be wasted work.
    return message.body
