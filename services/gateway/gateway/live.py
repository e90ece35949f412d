"""Live push: `notification.created` from Kafka to the browsers connected to
this gateway process over server-sent events.

Every gateway process reads the whole topic itself: a consumer with no group
(no offsets committed, every partition assigned, starting at the end), since
each process must see every notification for the people connected to it. What
was published while no stream was open is not replayed: clients fetch the list
and the unread count when they (re)connect, and poll when they cannot stream.

The hub only routes: a user's notification to that user's streams, an admins'
notification to every admin's stream. Each stream then asks the notifications
service, as its own user, for that notification and the unread count (see
routes.notifications.stream), so what is pushed is exactly what the person's
list would show (nothing they deleted or turned off in the app) and the count
is the service's, never one kept here.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from common.http import Identity
from common.kafka import KafkaAccess
from contracts.events.notifications import NotificationCreated, NotificationCreatedData

log = logging.getLogger(__name__)

QUEUE_SIZE = 100  # per stream; a client this far behind refetches the list anyway


class TooManyStreams(Exception):
    """The user already holds as many open streams as one may."""


@dataclass(eq=False)
class Subscription:
    """One open stream: the notifications routed to it, in order."""

    who: Identity
    queue: asyncio.Queue[NotificationCreatedData] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))


class LiveHub:
    def __init__(self, access: KafkaAccess, *, client_id: str, max_streams_per_user: int,
                 max_backoff_s: float = 10.0) -> None:
        self._access = access
        self._max_streams_per_user = max_streams_per_user
        self._client_id = client_id
        self._max_backoff_s = max_backoff_s
        self._by_user: dict[str, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None
        self.consuming = asyncio.Event()  # set once the consumer is positioned

    # --- streams -------------------------------------------------------------

    def subscribe(self, who: Identity) -> Subscription:
        """Each stream holds a connection and a queue here: one user (or one
        stolen token) may not open them without end."""
        streams = self._by_user.setdefault(who.user_id, set())
        if len(streams) >= self._max_streams_per_user:
            raise TooManyStreams(f"at most {self._max_streams_per_user} open streams per user; close one first")
        subscription = Subscription(who)
        streams.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        streams = self._by_user.get(subscription.who.user_id, set())
        streams.discard(subscription)
        if not streams:
            self._by_user.pop(subscription.who.user_id, None)

    def route(self, data: NotificationCreatedData) -> int:
        """Queue `data` on the streams it is for; how many."""
        if data.recipient_user_id is not None:
            targets = list(self._by_user.get(data.recipient_user_id, ()))
        else:
            targets = [s for streams in self._by_user.values() for s in streams if s.who.role == data.recipient_role]
        for subscription in targets:
            try:
                subscription.queue.put_nowait(data)
            except asyncio.QueueFull:
                log.warning("live stream of %s is %d behind; dropping notification %s (the client's next "
                            "list fetch has it)", subscription.who.user_id, QUEUE_SIZE, data.notification_id)
        return len(targets)

    # --- Kafka ---------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._consume_forever(), name="gateway-live-consumer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _consume_forever(self) -> None:
        """Kafka being away must not stop the gateway: reconnect with backoff."""
        backoff = 0.5
        while True:
            consumer = AIOKafkaConsumer(
                NotificationCreated.TOPIC,
                **self._access.client_options(),
                client_id=self._client_id,
                group_id=None,  # every process reads every partition; nothing to commit
                auto_offset_reset="latest",
                enable_auto_commit=False,
            )
            try:
                await consumer.start()
                backoff = 0.5
                await self._consume(consumer)
            except (KafkaError, OSError) as exc:
                log.warning("live consumer: kafka unavailable, retrying in %.1fs: %r", backoff, exc)
            finally:
                self.consuming.clear()
                with contextlib.suppress(Exception):
                    await consumer.stop()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        await consumer.seek_to_end()  # resolve "latest" now: what is published from here on is pushed
        self.consuming.set()
        log.info("live consumer reading %s", NotificationCreated.TOPIC)
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            for records in batches.values():
                for record in records:
                    try:
                        event = NotificationCreated.model_validate_json(record.value)
                    except ValidationError as exc:  # not ours to dead-letter; the service's consumers own it
                        log.error("live consumer: skipping an invalid notification at offset %s: %s",
                                  record.offset, exc)
                        continue
                    self.route(event.data)
