"""The gateway's one Kafka producer. Kafka being down must not stop the gateway
from starting: the producer connects in the background, retrying, and until it
is connected (or when a send fails) publishing raises KafkaUnavailable."""

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from common import kafka
from contracts.envelope import Event

log = logging.getLogger(__name__)


class KafkaUnavailable(Exception):
    pass


class Publisher:
    def __init__(self, access: kafka.KafkaAccess, *, client_id: str, publish_timeout_s: float,
                 max_backoff_s: float = 10.0) -> None:
        self._access = access
        self._client_id = client_id
        self._publish_timeout_s = publish_timeout_s
        self._max_backoff_s = max_backoff_s
        self._producer: AIOKafkaProducer | None = None
        self._connecting: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._connecting = asyncio.create_task(self._connect(), name="gateway-kafka-connect")

    async def _connect(self) -> None:
        backoff = 0.5
        while True:
            # Webhooks arrive one by one: 20 ms of linger puts the ones that come
            # meanwhile into the same produce request. Stripe does not mind the wait.
            producer = kafka.make_producer(self._access, client_id=self._client_id, linger_ms=20)
            try:
                await producer.start()
            except (KafkaError, OSError) as exc:
                log.warning("kafka not reachable, retrying in %.1fs: %s", backoff, exc)
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
            else:
                self._producer = producer
                log.info("kafka producer connected")
                return

    async def publish(self, event: Event) -> None:
        """Returns once the broker holds the event (acks=all)."""
        if self._producer is None:
            raise KafkaUnavailable("kafka producer not connected yet")
        try:
            await kafka.publish(self._producer, event, timeout=self._publish_timeout_s)
        except (KafkaError, TimeoutError, OSError) as exc:
            raise KafkaUnavailable(f"kafka publish failed: {exc!r}") from exc

    async def reachable(self) -> bool:
        return self._producer is not None and await kafka.kafka_reachable(self._producer)

    async def stop(self) -> None:
        if self._connecting:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self._producer:
            await self._producer.stop()
