"""Where the local stack lives and which ports it uses, per profile.

Ports are deterministic: the `dev` profile uses the well-known defaults, the
`test` profile adds 1000 to each, so a running dev stack and a test run never
collide. Any port can be moved with `CALLASTAR_STACK_<PROFILE>_<NAME>_PORT`
(e.g. `CALLASTAR_STACK_DEV_GATEWAY_PORT=8080`), all of them at once with
`CALLASTAR_STACK_PORT_OFFSET` (added to the dev ports instead of the profile's
offset), and the profile's state folder with `CALLASTAR_STACK_STATE_DIR`.

`CALLASTAR_STACK_REPLICAS=ledger=2,payments=2` (what `up --replicas` sets) runs
that many instances of a service in its one consumer group; instance n > 1
serves on the service's port + 100 * (n - 1) and is named `<service>-<n>`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from common.kafka import KafkaAccess
from common.secrets import DEV_SECRETS

SERVICES: tuple[str, ...] = ("payments", "ledger", "payouts", "notifications")
PROFILES: tuple[str, ...] = ("dev", "test")
PROFILE_OFFSET = {"dev": 0, "test": 1000}
REPLICA_PORT_STEP = 100  # instance n of a service: its port + (n - 1) * this
MAX_REPLICAS = 6  # the topics' partitions bound a group's useful consumers

# name -> dev port
DEFAULT_PORTS: dict[str, int] = {
    "pg": 55432,
    "kafka": 59092,
    "kafka_controller": 59093,
    "stripe_mock": 12111,
    "stripe_mock_https": 12112,
    "smtp": 8025,
    "gateway": 8000,
    "gateway_metrics": 8009,
    "payments": 8101,
    "ledger": 8102,
    "payouts": 8103,
    "notifications": 8104,
}

KAFKA_ADMIN = "admin"  # the broker's super user (stack.kafka_access)
STRIPE_MOCK_KEY = "sk_test_123"
STRIPE_MOCK_VERSION = "v0.203.0"
KAFKA_VERSION = "3.9.1"

# Secrets and knobs with a dev default; a value already in os.environ wins. The
# secrets are public (common.secrets): the services accept them only because the
# runner also says CALLASTAR_ENV=<profile>.
DEV_DEFAULTS: dict[str, str] = {
    **DEV_SECRETS,
    "CALLASTAR_KAFKA_PARTITIONS": "6",
}

# The test profile's clients (e2e tests, the benchmark) all call from 127.0.0.1,
# so the per-client rate limits (the API's and the webhooks') would throttle the suite itself; its own tests
# run against a gateway configured with a low limit.
PROFILE_DEFAULTS: dict[str, dict[str, str]] = {
    "test": {
        "CALLASTAR_GATEWAY_RATE_LIMIT_PER_MINUTE": "1000000",
        "CALLASTAR_GATEWAY_SENSITIVE_RATE_LIMIT_PER_MINUTE": "1000000",
        "CALLASTAR_GATEWAY_WEBHOOK_RATE_LIMIT_PER_MINUTE": "1000000",  # the bench offers up to 700 webhooks/s
    },
}


def repo_root() -> Path:
    """The workspace root: CALLASTAR_ROOT, else the directory above deploy/."""
    if root := os.environ.get("CALLASTAR_ROOT"):
        return Path(root).resolve()
    return Path(__file__).resolve().parents[2]


def parse_replicas(text: str) -> dict[str, int]:
    """`ledger=2,payments=2` -> {"ledger": 2, "payments": 2}; a service not named runs once."""
    replicas: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        service, _, count = item.partition("=")
        if service not in SERVICES or not count.isdigit() or not 1 <= int(count) <= MAX_REPLICAS:
            raise ValueError(f"bad replicas {item!r}: use <service>=<1..{MAX_REPLICAS}> with a service "
                             f"among {', '.join(SERVICES)}")
        replicas[service] = int(count)
    return replicas


def instance_name(service: str, index: int) -> str:
    """`ledger` for the first instance, `ledger-2` for the second, ..."""
    return service if index == 1 else f"{service}-{index}"


def port_setting(profile: str, name: str) -> str:
    return f"CALLASTAR_STACK_{profile.upper()}_{name.upper()}_PORT"


@dataclass(frozen=True)
class StackConfig:
    profile: str = "dev"
    root: Path = field(default_factory=repo_root)
    ports: Mapping[str, int] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @classmethod
    def for_profile(cls, profile: str = "dev", environ: Mapping[str, str] | None = None) -> StackConfig:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
        environ = dict(os.environ if environ is None else environ)
        # A second checkout (or a parallel run) can take another block of ports.
        offset = int(environ.get("CALLASTAR_STACK_PORT_OFFSET", PROFILE_OFFSET[profile]))
        ports = {}
        for name, dev_port in DEFAULT_PORTS.items():
            override = environ.get(port_setting(profile, name))
            ports[name] = int(override) if override else dev_port + offset
        return cls(profile=profile, ports=ports, environ=environ)

    # --- places -----------------------------------------------------------
    @property
    def state_root(self) -> Path:
        return self.root / ".state"

    @property
    def state_dir(self) -> Path:
        if custom := self.environ.get("CALLASTAR_STACK_STATE_DIR"):
            return Path(custom).resolve()
        return self.state_root / self.profile

    @property
    def bin_dir(self) -> Path:
        return self.state_root / "bin"

    @property
    def kafka_libs(self) -> Path:
        return self.state_root / "kafka-libs"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def maildir(self) -> Path:
        return self.state_dir / "mail"

    @property
    def pids_file(self) -> Path:
        return self.state_dir / "pids.json"

    # --- addresses --------------------------------------------------------
    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['kafka']}"

    def _secret(self, variable: str) -> str:
        return self.environ.get(variable) or DEV_SECRETS[variable]

    @property
    def kafka_admin_password(self) -> str:
        return self._secret("CALLASTAR_KAFKA_ADMIN_PASSWORD")

    @property
    def kafka_admin(self) -> KafkaAccess:
        """The broker's super user, over PLAIN: the one login that exists before provisioning."""
        return KafkaAccess(self.kafka_bootstrap, KAFKA_ADMIN, self.kafka_admin_password, mechanism="PLAIN")

    def kafka_passwords(self) -> dict[str, str]:
        """Every principal's SCRAM password: CALLASTAR_KAFKA_<PRINCIPAL>_PASSWORD (docker-compose
        sets one per service), else the public one the local stacks' services share.
        (CALLASTAR_KAFKA_PASSWORD is one process's own password, not read here.)"""
        shared = DEV_SECRETS["CALLASTAR_KAFKA_PASSWORD"]
        return {KAFKA_ADMIN: self.kafka_admin_password,
                **{p: self.environ.get(f"CALLASTAR_KAFKA_{p.upper()}_PASSWORD") or shared
                   for p in ("gateway", *SERVICES)}}

    def process_env(self, principal: str) -> dict[str, str]:
        """`env()` for one process of the stack: it logs in to Kafka as `principal`."""
        return {**self.env(), "CALLASTAR_KAFKA_USERNAME": principal,
                "CALLASTAR_KAFKA_PASSWORD": self.kafka_passwords()[principal]}

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def replicas(self, service: str) -> int:
        return parse_replicas(self.environ.get("CALLASTAR_STACK_REPLICAS", "")).get(service, 1)

    def instance_port(self, service: str, index: int) -> int:
        return self.ports[service] + (index - 1) * REPLICA_PORT_STEP

    def service_url(self, service: str, index: int = 1) -> str:
        return f"http://127.0.0.1:{self.instance_port(service, index)}"

    def service_urls(self, service: str) -> str:
        """Every instance's URL, comma-separated: what the gateway spreads its calls over."""
        return ",".join(self.service_url(service, n) for n in range(1, self.replicas(service) + 1))

    def database_url(self, service: str, *, owner: bool = False) -> str:
        """SQLAlchemy URL (postgresql+asyncpg://) for a service's own database, as its
        runtime role or (`owner`) as the owner role that runs migrations (stack.databases;
        the local stacks' passwords are the role names)."""
        role = f"{service}_owner" if owner else service
        return f"postgresql+asyncpg://{role}:{role}@127.0.0.1:{self.ports['pg']}/{service}"

    @property
    def partitions(self) -> int:
        return int(self.environ.get("CALLASTAR_KAFKA_PARTITIONS") or DEV_DEFAULTS["CALLASTAR_KAFKA_PARTITIONS"])

    @property
    def uses_real_stripe(self) -> bool:
        """A real Stripe test key in the environment: talk to Stripe, not to stripe-mock."""
        key = self.environ.get("CALLASTAR_STRIPE_API_KEY")
        return bool(key) and key != STRIPE_MOCK_KEY

    @property
    def stripe_api_base(self) -> str:
        if self.uses_real_stripe:
            return self.environ.get("CALLASTAR_STRIPE_API_BASE", "https://api.stripe.com")
        return f"http://127.0.0.1:{self.ports['stripe_mock']}"

    def env(self) -> dict[str, str]:
        """The CALLASTAR_* variables every service process gets.

        Addresses (ports, URLs, bootstrap servers) are facts of this stack and
        always come from it; secrets and knobs take os.environ first, then the
        dev defaults.
        """
        env: dict[str, str] = {}
        for key, default in {**DEV_DEFAULTS, **PROFILE_DEFAULTS.get(self.profile, {})}.items():
            env[key] = self.environ.get(key) or default
        env["CALLASTAR_ENV"] = self.profile  # dev or test: development secrets are accepted
        env["CALLASTAR_KAFKA_BOOTSTRAP_SERVERS"] = self.kafka_bootstrap
        # In-process code (tests, a service run by hand) is the super user; each
        # process the runner starts is its own principal (process_env).
        env["CALLASTAR_KAFKA_USERNAME"] = KAFKA_ADMIN
        env["CALLASTAR_KAFKA_PASSWORD"] = self.kafka_admin_password
        for svc in SERVICES:
            key = svc.upper()
            env[f"CALLASTAR_{key}_DATABASE_URL"] = self.database_url(svc)
            env[f"CALLASTAR_{key}_MIGRATION_DATABASE_URL"] = self.database_url(svc, owner=True)
            env[f"CALLASTAR_{key}_PORT"] = str(self.ports[svc])
            env[f"CALLASTAR_GATEWAY_{key}_URL"] = self.service_urls(svc)
        env["CALLASTAR_GATEWAY_PORT"] = str(self.ports["gateway"])
        env["CALLASTAR_GATEWAY_METRICS_PORT"] = str(self.ports["gateway_metrics"])
        env["CALLASTAR_NOTIFICATIONS_PUBLIC_URL"] = self.gateway_url  # links in emails
        if self.uses_real_stripe:
            env["CALLASTAR_STRIPE_API_KEY"] = self.environ["CALLASTAR_STRIPE_API_KEY"]
            if "CALLASTAR_STRIPE_API_BASE" in self.environ:
                env["CALLASTAR_STRIPE_API_BASE"] = self.environ["CALLASTAR_STRIPE_API_BASE"]
        else:
            env["CALLASTAR_STRIPE_API_KEY"] = STRIPE_MOCK_KEY
            env["CALLASTAR_STRIPE_API_BASE"] = self.stripe_api_base
        env["CALLASTAR_SMTP_HOST"] = "127.0.0.1"
        env["CALLASTAR_SMTP_PORT"] = str(self.ports["smtp"])
        return env
