"""What a running stack looks like to its users (the pytest fixtures, the CLI),
whichever backend started it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from common.kafka import KafkaAccess
from stack.config import SERVICES


@dataclass
class StackHandle:
    env: dict[str, str]
    maildir: Path | None = None
    services_started: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        if url := self.env.get("CALLASTAR_GATEWAY_URL"):
            return url
        return f"http://127.0.0.1:{self.env['CALLASTAR_GATEWAY_PORT']}"

    def service_url(self, service: str) -> str:
        """The first instance's URL (the gateway's setting lists every instance)."""
        return self.service_urls(service)[0]

    def service_urls(self, service: str) -> list[str]:
        return self.env[f"CALLASTAR_GATEWAY_{service.upper()}_URL"].split(",")

    def database_url(self, service: str, *, owner: bool = False) -> str:
        """SQLAlchemy async URL (postgresql+asyncpg://...) of the service's own database, as
        the role the service runs as, or (`owner`) as the owner role that runs migrations,
        may ALTER, and in the local stacks may create scratch databases."""
        if service not in SERVICES:
            raise KeyError(f"no database for {service!r}; services with one: {', '.join(SERVICES)}")
        kind = "MIGRATION_DATABASE_URL" if owner else "DATABASE_URL"
        return self.env[f"CALLASTAR_{service.upper()}_{kind}"]

    def asyncpg_dsn(self, service: str, *, owner: bool = False) -> str:
        """The same database as a plain DSN for `asyncpg.connect()`."""
        return self.database_url(service, owner=owner).replace("postgresql+asyncpg://", "postgresql://", 1)

    @property
    def kafka_bootstrap(self) -> str:
        return self.env["CALLASTAR_KAFKA_BOOTSTRAP_SERVERS"]

    @property
    def kafka(self) -> KafkaAccess:
        """How the tests reach Kafka: as the super user, who may read and write anything."""
        return KafkaAccess(self.kafka_bootstrap, self.env["CALLASTAR_KAFKA_USERNAME"],
                           self.env["CALLASTAR_KAFKA_PASSWORD"])

    @property
    def stripe_api_base(self) -> str:
        return self.env.get("CALLASTAR_STRIPE_API_BASE", "https://api.stripe.com")

    @property
    def stripe_api_key(self) -> str:
        return self.env["CALLASTAR_STRIPE_API_KEY"]

    @property
    def smtp_host(self) -> str:
        return self.env.get("CALLASTAR_SMTP_HOST", "127.0.0.1")

    @property
    def smtp_port(self) -> int:
        return int(self.env["CALLASTAR_SMTP_PORT"])

    @property
    def partitions(self) -> int:
        return int(self.env.get("CALLASTAR_KAFKA_PARTITIONS", "6"))
