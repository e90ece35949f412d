"""Applying events to a service's database, the one way every service does it.

A service declares, per event type, a handler that is given the batch's events
of that type (in order, duplicates already dropped by the inbox) and an
`Applying`: the transaction, the service's own `needs` (what its create_app
built from its Settings, e.g. its Stripe gateway) and where it announces what
now exists. Nothing reaches a handler any other way:

    handlers = EventHandlers[Needs](permanent=(LedgerError,))

    @handlers.on(PaymentSucceeded)
    async def on_payment_succeeded(events: Sequence[PaymentSucceeded], applying: Applying[Needs]) -> None:
        rows = await models.rows_for(applying.session, events)  # one read for the batch
        effects = [domain.decide(event, rows) for event in events]  # pure, per event
        await models.write(applying.session, effects)  # one statement per table
        await outbox.add_many(applying.session, [announced(e) for e in effects])

Rules stay pure in each service's domain; a handler reads rows, asks the rules
(which decide each event in delivery order, on the rows as the events before it
left them), writes the effects and emits events through the outbox, for the
whole batch at once, so the statements do not grow with the batch.
A batch that fails (a rule error in one event) is redone by the consumer record
by record: the same handler is then given one event at a time. Kafka is consumers.py's
business; the inbox claim, parking and the release of parked events are here.
"""

import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from common import inbox, outbox, parking, tracing
from common.db import Database
from contracts.envelope import Event
from contracts.events.stripe import StripeEventReceived

log = logging.getLogger(__name__)

N = TypeVar("N")  # what a service's handlers need: its own dataclass of dependencies


class PermanentError(Exception):
    """A message that can never succeed (unknown id, broken invariant): no retries,
    straight to the dead-letter topic with this message as the reason."""


@dataclass
class Applying(Generic[N]):
    """Given to every handler with its events."""

    session: AsyncSession
    needs: N
    announced: set[str] = field(default_factory=set)

    def ready(self, key: str) -> None:
        """`key` now exists: the events parked waiting for it are applied after this
        batch's handlers, in the same transaction."""
        self.announced.add(key)


Handler = Callable[[Sequence[Any], Applying[Any]], Awaitable[None]]


def by_stripe_type(handlers: Mapping[str, Handler], *, connect: bool) -> Handler:
    """The handler of stripe.event.received for a service that acts on the Stripe
    event types in `handlers`, arrived on the Connect endpoint or not
    (`connect`); the others are not its business.

    A handler is given each run of consecutive events it handles at once (one
    handler may take several types: refund.created then refund.updated are one
    run); the runs are applied in delivery order, so what one event does to a
    row the next one sees. A handler names the event in any NotReady it raises."""

    def ours(event: StripeEventReceived) -> bool:
        if event.data.connect == connect and event.data.type in handlers:
            return True
        log.debug("not applying Stripe event %s of type %s", event.data.stripe_event_id, event.data.type)
        return False

    async def on_stripe_events(events: Sequence[StripeEventReceived], applying: Applying[Any]) -> None:
        for handler, run in itertools.groupby(filter(ours, events), key=lambda event: handlers[event.data.type]):
            await handler(list(run), applying)

    return on_stripe_events


@dataclass(frozen=True)
class Subscription:
    model: type[Event]
    handler: Handler


@dataclass
class EventHandlers(Generic[N]):
    """The events a service applies, a handler per event type. `permanent`: the
    service's rule errors, which no retry can fix (dead-lettered at once, like
    PermanentError)."""

    permanent: tuple[type[Exception], ...] = ()
    subscriptions: dict[str, Subscription] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.permanent = (PermanentError, *self.permanent)

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


class EventApplier(Generic[N]):
    def __init__(self, handlers: EventHandlers[N], needs: N) -> None:
        self._handlers = handlers
        self._needs = needs

    async def apply_all(
        self, session: AsyncSession, deliveries: Sequence[Delivery], parked: Mapping[UUID, str] = MappingProxyType({})
    ) -> None:
        """The fast path for a batch: one inbox statement, then each run of
        consecutive events of one type to its handler at once, in delivery order,
        no savepoints, and the events they emit written to the outbox in one
        statement. The events in `parked` (id -> what each waits for) are parked
        instead of handled. A handler's NotReady raises ReadTooEarly, any other
        exception propagates: either way the caller's transaction is to be rolled
        back and the batch redone."""
        claimed = await inbox.claim_many(
            session, [(d.event.event_id, d.topic) for d in deliveries if d.event.event_id not in parked]
        )
        applying = Applying(session, self._needs)
        async with outbox.written_together(session):
            run: list[Delivery] = []
            run_topic = ""
            for delivery in deliveries:
                event_id = delivery.event.event_id
                if event_id in parked:
                    await self._park(session, delivery, parked[event_id])
                    continue
                if event_id not in claimed:
                    log.info("already applied %s %s", delivery.topic, event_id)
                    continue
                claimed.discard(event_id)  # a second copy in the batch is a duplicate
                if delivery.topic != run_topic:
                    await self._handle_run(run_topic, run, applying)
                    run, run_topic = [], delivery.topic
                run.append(delivery)
            await self._handle_run(run_topic, run, applying)
        await self._release(session, applying.announced)

    async def _handle_run(self, topic: str, run: list[Delivery], applying: Applying[N]) -> None:
        if not run:
            return
        try:
            with tracing.applying(topic, [(d.event.correlation_id, d.headers) for d in run]):
                await self._handlers.subscriptions[topic].handler([d.event for d in run], applying)
        except parking.NotReady as wait:
            if wait.event_id is None:
                raise  # a handler's bug: not one of its events is named; redone record by record
            raise ReadTooEarly(wait.event_id, wait.waits_for) from wait

    async def apply_or_park(self, session: AsyncSession, delivery: Delivery) -> None:
        """Claim and handle one delivery; park it if its prerequisite is missing;
        then apply the parked events its handler announced as ready. Runs inside
        the caller's savepoint or transaction, which an exception rolls back whole."""
        event = delivery.event
        applying = Applying(session, self._needs)
        try:
            async with session.begin_nested():
                if not await inbox.claim(session, event.event_id, delivery.topic):
                    log.info("already applied %s %s", delivery.topic, event.event_id)
                    return
                with tracing.applying(delivery.topic, [(event.correlation_id, delivery.headers)]):
                    await self._handlers.subscriptions[delivery.topic].handler([event], applying)
        except parking.NotReady as wait:
            await self._park(session, delivery, wait.waits_for)
            return
        await self._release(session, applying.announced)

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
