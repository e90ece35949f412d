"""Kafka consumers done once for every service.

A message is validated into its contract model, then applied in one database
transaction together with its inbox claim; the Kafka offset is committed only
after that transaction commits. A failing message is retried a bounded number
of times and then parked on `<topic>.dlq` with the error, so it never blocks
its partition forever and is never dropped silently.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from common import inbox, logs, parking
from common.db import Database
from contracts.envelope import Event
from contracts.topics import dlq

log = logging.getLogger(__name__)

Handler = Callable[[Any, AsyncSession], Awaitable[None]]


class PermanentError(Exception):
    """A message that can never succeed (unknown id, broken invariant): no retries,
    straight to the dead-letter topic with this message as the reason."""


@dataclass(frozen=True)
class Subscription:
    model: type[Event]
    handler: Handler


@dataclass
class EventHandlers:
    """The events a service applies: `@handlers.on(PaymentSucceeded)`."""

    subscriptions: dict[str, Subscription] = field(default_factory=dict)

    def on(self, model: type[Event]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if model.TOPIC in self.subscriptions:
                raise ValueError(f"two handlers for {model.TOPIC}")
            self.subscriptions[model.TOPIC] = Subscription(model, handler)
            return handler

        return register


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    first_backoff_seconds: float = 0.1

    def delays(self) -> list[float]:
        return [self.first_backoff_seconds * 2**n for n in range(self.max_retries)]


class EventConsumer:
    """Applies the records of one topic for one consumer group."""

    def __init__(
        self,
        *,
        topic: str,
        group_id: str,
        handlers: EventHandlers,
        db: Database,
        dead_letters: AIOKafkaProducer,
        retry: RetryPolicy,
        concurrency: int,
    ) -> None:
        self.topic = topic
        self.group_id = group_id
        self._handlers = handlers
        self._model = handlers.subscriptions[topic].model
        self._db = db
        self._dead_letters = dead_letters
        self._retry = retry
        self._slots = asyncio.Semaphore(concurrency)

    async def apply_batch(self, records: tuple[ConsumerRecord, ...]) -> None:
        """Apply a batch in one transaction, each record in its own savepoint.

        One commit per batch instead of one per record is what lets a consumer
        keep up on a small machine. A record that fails is rolled back to its
        savepoint, and it and the later records of its key are set aside and
        applied after the commit, one by one with retries, in their order.
        """
        by_key: dict[tuple[int, bytes | None], list[tuple[ConsumerRecord, Event]]] = defaultdict(list)
        for record in records:
            try:
                event = self._model.model_validate_json(record.value)
            except ValidationError as error:
                await self._dead_letter(record, error, attempts=1)
                continue
            by_key[(record.partition, record.key)].append((record, event))
        set_aside: list[list[tuple[ConsumerRecord, Event]]] = []
        try:
            async with self._db.transaction() as session:
                for pending in by_key.values():
                    for position, (record, event) in enumerate(pending):
                        if not await self._apply_in_savepoint(session, event, record.value):
                            set_aside.append(pending[position:])
                            break
        except Exception:  # noqa: BLE001 - the commit itself failed: nothing of the batch stands
            log.exception("batch transaction on %s failed; applying one by one", self.topic)
            set_aside = list(by_key.values())
        await asyncio.gather(*(self._apply_in_order(pending) for pending in set_aside))

    async def _apply_in_savepoint(self, session: AsyncSession, event: Event, payload: bytes) -> bool:
        token = logs.correlation_id.set(event.correlation_id)
        try:
            async with session.begin_nested():
                await self._apply_or_park(session, self.topic, event, payload)
            return True
        except Exception as error:  # noqa: BLE001 - retried on its own after the batch
            log.warning("%s %s failed in its batch (%r); retrying alone", self.topic, event.event_id, error)
            return False
        finally:
            logs.correlation_id.reset(token)

    async def _apply_or_park(self, session: AsyncSession, topic: str, event: Event, payload: bytes) -> None:
        """Claim and handle `event`; park it if its prerequisite is missing; then
        apply the parked events its handler announced as ready. Runs inside the
        caller's savepoint or transaction, which an exception rolls back whole."""
        parking.take_announced(session)
        try:
            async with session.begin_nested():
                if not await inbox.claim(session, event.event_id, topic):
                    log.info("already applied %s %s", topic, event.event_id)
                    return
                await self._handlers.subscriptions[topic].handler(event, session)
        except parking.NotReady as wait:
            parking.take_announced(session)
            await parking.park(session, event_id=event.event_id, topic=topic, payload=payload, waits_for=wait.waits_for)
            log.info("parked %s %s until %s", topic, event.event_id, wait.waits_for)
            return
        for key in parking.take_announced(session):
            for parked in await parking.waiting_for(session, key):
                await self._apply_parked(session, parked)

    async def _apply_parked(self, session: AsyncSession, parked: parking.ParkedEvent) -> None:
        subscription = self._handlers.subscriptions[parked.topic]
        event = subscription.model.model_validate_json(parked.payload)
        try:
            async with session.begin_nested():
                await parking.release(session, parked)
                await self._apply_or_park(session, parked.topic, event, parked.payload)
        except Exception:  # noqa: BLE001 - the event that released it is not to blame
            # It stays parked (visible in parked_events) rather than failing the
            # event that was applied fine, and is logged for an operator.
            log.exception("parked %s %s failed when released; it stays parked", parked.topic, event.event_id)

    async def _apply_in_order(self, pending: list[tuple[ConsumerRecord, Event]]) -> None:
        async with self._slots:
            for record, event in pending:
                token = logs.correlation_id.set(event.correlation_id)
                try:
                    await self._apply_with_retries(record, event)
                finally:
                    logs.correlation_id.reset(token)

    async def _apply_with_retries(self, record: ConsumerRecord, event: Event) -> None:
        delays = self._retry.delays()
        for attempt in range(1, len(delays) + 2):
            try:
                await self._apply_once(record, event)
                return
            except PermanentError as error:
                await self._dead_letter(record, error, attempts=attempt)
                return
            except Exception as error:  # noqa: BLE001 - any failure is retried, then parked
                if attempt > len(delays):
                    log.exception("giving up on %s %s", self.topic, event.event_id)
                    await self._dead_letter(record, error, attempts=attempt)
                    return
                log.warning("retrying %s %s after %r", self.topic, event.event_id, error)
                await asyncio.sleep(delays[attempt - 1])

    async def _apply_once(self, record: ConsumerRecord, event: Event) -> None:
        async with self._db.transaction() as session:
            await self._apply_or_park(session, self.topic, event, record.value)

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
        await self._dead_letters.send_and_wait(
            dlq(record.topic), record.value, key=record.key, headers=headers
        )


def subscribe(
    broker: KafkaBroker,
    handlers: EventHandlers,
    *,
    group_id: str,
    db: Database,
    dead_letters: AIOKafkaProducer,
    retry: RetryPolicy,
    max_records: int = 200,
    concurrency: int = 8,
) -> list[EventConsumer]:
    """Attach one batch subscriber per handled topic to `broker`."""
    consumers = []
    for topic in handlers.subscriptions:
        consumer = EventConsumer(
            topic=topic,
            group_id=group_id,
            handlers=handlers,
            db=db,
            dead_letters=dead_letters,
            retry=retry,
            concurrency=concurrency,
        )

        # NACK_ON_ERROR: the offsets are committed only when the whole batch has
        # been applied (or dead-lettered); on an exception the consumer seeks back
        # and the batch is read again (the inbox makes the replay harmless).
        broker.subscriber(
            topic,
            group_id=group_id,
            batch=True,
            max_records=max_records,
            batch_timeout_ms=50,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
        )(_batch_handler(consumer))
        consumers.append(consumer)
    return consumers


def _batch_handler(consumer: EventConsumer) -> Callable[..., Awaitable[None]]:
    async def consume(body: list[Any], message: KafkaMessage) -> None:
        await consumer.apply_batch(message.raw_message)

    consume.__name__ = f"consume_{consumer.topic.replace('.', '_')}"
    return consume
