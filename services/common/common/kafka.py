"""How every process reaches Kafka (who it is, over what), and the producer every
service uses: idempotent, acks=all."""

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram512

from common import tracing
from contracts.envelope import Event

SecurityProtocol = Literal["SASL_PLAINTEXT", "SASL_SSL", "PLAINTEXT"]
# SCRAM for every service; PLAIN only for the broker's super user, whose password the
# broker holds itself (it provisions the SCRAM principals, so it cannot be one of them).
Mechanism = Literal["SCRAM-SHA-512", "PLAIN"]


@dataclass(frozen=True)
class KafkaAccess:
    """Where the brokers are and how this process authenticates to them: as
    `username` (SCRAM-SHA-512), over TLS with SASL_SSL (`ca_file` names the CA to
    trust, else the system's). PLAINTEXT (no authentication) is for a broker of
    your own in development only; the settings refuse it elsewhere."""

    bootstrap_servers: str
    username: str = ""
    password: str = field(default="", repr=False)
    security_protocol: SecurityProtocol = "SASL_PLAINTEXT"
    ca_file: str | None = None
    mechanism: Mechanism = "SCRAM-SHA-512"

    def security(self) -> BaseSecurity | None:
        """For FastStream's KafkaBroker(security=...)."""
        if self.security_protocol == "PLAINTEXT":
            return None
        context = ssl.create_default_context(cafile=self.ca_file) if self.security_protocol == "SASL_SSL" else None
        kind = SASLScram512 if self.mechanism == "SCRAM-SHA-512" else SASLPlaintext
        return kind(self.username, self.password, ssl_context=context)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        return {"bootstrap_servers": self.bootstrap_servers, **parse_security(self.security())}


def make_producer(access: KafkaAccess, client_id: str, *, linger_ms: int = 5) -> AIOKafkaProducer:
    # Idempotence (which implies acks=all) makes the broker drop a batch the
    # producer retried after a lost ack, and keeps per-partition order while
    # up to 5 batches are in flight. The linger gathers concurrent sends into
    # one produce request: far less CPU on both sides.
    return AIOKafkaProducer(
        **access.client_options(),
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
        producer.send_and_wait(event.TOPIC, encode(event), key=event.key(),
                               headers=tracing.kafka_headers(tracing.carrier())),
        timeout,
    )


async def kafka_reachable(producer: AIOKafkaProducer, timeout: float = 2.0) -> bool:
    try:
        await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout)
    except (KafkaError, TimeoutError, OSError):
        return False
    return True
