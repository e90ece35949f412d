"""The Kafka producer every service uses: idempotent, acks=all."""

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from contracts.envelope import Event


def make_producer(bootstrap_servers: str, client_id: str, *, linger_ms: int = 5) -> AIOKafkaProducer:
    # Idempotence (which implies acks=all) makes the broker drop a batch the
    # producer retried after a lost ack, and keeps per-partition order while
    # up to 5 batches are in flight. The linger gathers concurrent sends into
    # one produce request: far less CPU on both sides.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        request_timeout_ms=10_000,
    )


def encode(event: Event) -> bytes:
    return event.model_dump_json().encode()


async def publish(producer: AIOKafkaProducer, event: Event, *, timeout: float = 10.0) -> None:
    """Publish one event now and wait for the broker's acks=all confirmation.

    Only for the edge (the gateway), where there is no database to hold an outbox:
    the caller answers only after this returns, so the sender retries on failure.
    """
    await asyncio.wait_for(
        producer.send_and_wait(event.TOPIC, encode(event), key=event.key()), timeout
    )


async def kafka_reachable(producer: AIOKafkaProducer, timeout: float = 2.0) -> bool:
    try:
        await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout)
    except (KafkaError, TimeoutError, OSError):
        return False
    return True
