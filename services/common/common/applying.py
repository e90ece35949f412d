"""Applying events to a service's database: the inbox claim, the handler,
parking and the release of parked events. Kafka is consumers.py's business."""

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from common import inbox, outbox, parking, tracing
from common.db import Database
from contracts.envelope import Event

log = logging.getLogger(__name__)

Handler = Callable[[Any, AsyncSession], Awaitable[None]]


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


class ReadTooEarly(Exception):
    """From `apply_all`: this event's handler raised NotReady. The batch is to
    be redone with the event parked (`parked`) instead of handled."""

    def __init__(self, event_id: UUID, waits_for: str) -> None:
        super().__init__(f"{event_id} waits for {waits_for}")
        self.event_id = event_id
        self.waits_for = waits_for


@dataclass(frozen=True)
class Delivery:
    """One event as read from `topic`, with the exact bytes it came in and the
    record's headers (the trace context it continues)."""

    topic: str
    event: Event
    payload: bytes
    headers: Sequence[tuple[str, bytes]] = ()


class EventApplier:
    def __init__(self, handlers: EventHandlers) -> None:
        self._handlers = handlers

    async def apply_all(
        self, session: AsyncSession, deliveries: Sequence[Delivery], parked: Mapping[UUID, str] = MappingProxyType({})
    ) -> None:
        """The fast path for a batch: one inbox statement, then every handler in
        delivery order, no savepoints, and the events they emit written to the
        outbox in one statement. The events in `parked` (id -> what each waits
        for) are parked instead of handled. A handler's NotReady raises
        ReadTooEarly, any other exception propagates: either way the caller's
        transaction is to be rolled back and the batch redone."""
        claimed = await inbox.claim_many(
            session, [(d.event.event_id, d.topic) for d in deliveries if d.event.event_id not in parked]
        )
        parking.take_announced(session)
        async with outbox.written_together(session):
            for delivery in deliveries:
                event_id = delivery.event.event_id
                if event_id in parked:
                    await self._park(session, delivery, parked[event_id])
                    continue
                if event_id not in claimed:
                    log.info("already applied %s %s", delivery.topic, event_id)
                    continue
                claimed.discard(event_id)  # a second copy in the batch is a duplicate
                try:
                    with tracing.applying(delivery.topic, delivery.headers):
                        await self._handlers.subscriptions[delivery.topic].handler(delivery.event, session)
                except parking.NotReady as wait:
                    raise ReadTooEarly(event_id, wait.waits_for) from wait
        await self._release(session, parking.take_announced(session))

    async def apply_or_park(self, session: AsyncSession, delivery: Delivery) -> None:
        """Claim and handle one delivery; park it if its prerequisite is missing;
        then apply the parked events its handler announced as ready. Runs inside
        the caller's savepoint or transaction, which an exception rolls back whole."""
        parking.take_announced(session)
        event = delivery.event
        try:
            async with session.begin_nested():
                if not await inbox.claim(session, event.event_id, delivery.topic):
                    log.info("already applied %s %s", delivery.topic, event.event_id)
                    return
                with tracing.applying(delivery.topic, delivery.headers):
                    await self._handlers.subscriptions[delivery.topic].handler(event, session)
        except parking.NotReady as wait:
            parking.take_announced(session)
            await self._park(session, delivery, wait.waits_for)
            return
        await self._release(session, parking.take_announced(session))

    async def _park(self, session: AsyncSession, delivery: Delivery, waits_for: str) -> None:
        await parking.park(session, event_id=delivery.event.event_id, topic=delivery.topic,
                           payload=delivery.payload, waits_for=waits_for)
        log.info("parked %s %s until %s", delivery.topic, delivery.event.event_id, waits_for)

    async def _release(self, session: AsyncSession, keys: set[str]) -> None:
        if keys:
            for parked in await parking.waiting_for(session, keys):
                await self.retry_parked(session, parked)

    async def retry_parked(self, session: AsyncSession, parked: parking.ParkedEvent) -> None:
        """Take a parked event out and apply it (it parks again if still not ready)."""
        model = self._handlers.subscriptions[parked.topic].model
        delivery = Delivery(parked.topic, model.model_validate_json(parked.payload), parked.payload)
        try:
            async with session.begin_nested():
                await parking.release(session, parked)
                await self.apply_or_park(session, delivery)
        except Exception:  # noqa: BLE001 - the event that released it is not to blame
            # It stays parked (visible in parked_events) rather than failing the
            # event that was applied fine, and is logged for an operator.
            log.exception("parked %s %s failed when released; it stays parked", parked.topic, delivery.event.event_id)

    async def sweep_parked(self, db: Database, limit: int = 100) -> None:
        """Retry what is parked. Releasing on announce covers the usual case; this
        covers a park and an announce that raced in two transactions."""
        async with db.transaction() as session:
            for parked in await parking.oldest(session, limit):
                await self.retry_parked(session, parked)
