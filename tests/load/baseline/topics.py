"""The baseline's Kafka: how its processes log in, and its own topics (one set per run)."""

import secrets
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

# Each process reads these from its environment (the launcher sets them).
BOOTSTRAP = "CALLASTAR_KAFKA_BOOTSTRAP_SERVERS"
USERNAME = "CALLASTAR_KAFKA_USERNAME"
PASSWORD = "CALLASTAR_KAFKA_PASSWORD"
PREFIX = "CALLASTAR_BASELINE_TOPIC_PREFIX"


def client_options(env: dict[str, str]) -> dict[str, Any]:
    """aiokafka options for the stack's super user: the stack's broker takes
    SASL only, and the baseline's topics have no ACLs of their own."""
    return {"bootstrap_servers": env[BOOTSTRAP], "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": env[USERNAME],
            "sasl_plain_password": env[PASSWORD]}


@dataclass(frozen=True)
class Topics:
    """A run's topics: a fresh prefix, so no earlier run's messages are read again."""

    prefix: str

    @classmethod
    def fresh(cls) -> "Topics":
        return cls(f"baseline-{secrets.token_hex(4)}")

    @property
    def stripe_events(self) -> str:
        return f"{self.prefix}.stripe-events"

    @property
    def payment_succeeded(self) -> str:
        return f"{self.prefix}.payment-succeeded"

    @property
    def balance_changed(self) -> str:
        return f"{self.prefix}.balance-changed"

    def group(self, stage: str) -> str:
        return f"{self.prefix}-{stage}"

    @property
    def all(self) -> list[str]:
        return [self.stripe_events, self.payment_succeeded, self.balance_changed]


async def create(env: dict[str, str], topics: Topics, partitions: int) -> None:
    admin = AIOKafkaAdminClient(**client_options(env), request_timeout_ms=30_000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in topics.all], timeout_ms=30_000)
    finally:
        await admin.close()


async def delete(env: dict[str, str], topics: Topics) -> None:
    admin = AIOKafkaAdminClient(**client_options(env), request_timeout_ms=30_000)
    await admin.start()
    try:
        await admin.delete_topics(topics.all, timeout_ms=30_000)
    finally:
        await admin.close()
