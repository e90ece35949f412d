"""The `containers` test backend: PostgreSQL 15, Kafka 3.9.1 (KRaft) and
stripe-mock from Docker images via testcontainers. Topic creation, database
bootstrap, readiness checks, the SMTP sink and the services are the local
runner's own code."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from dataclasses import replace

from stack import kafka as kafka_mod
from stack import kafka_access, stripe_mock
from stack.config import DEV_DEFAULTS, KAFKA_ADMIN, SERVICES, STRIPE_MOCK_KEY, StackConfig
from stack.handle import StackHandle
from stack.databases import ServiceDatabase, provision_at
from stack.procs import PidFile, run_async, wait_until
from stack.runner import LocalStack, start_smtp_sink


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ContainersBackend:
    name = "containers"

    def __init__(self) -> None:
        self.cfg = StackConfig.for_profile("test")
        self.containers: list = []
        self.smtp: subprocess.Popen | None = None
        self.pidfile = PidFile(self.cfg.state_dir / "containers-pids.json")
        self.services: LocalStack | None = None

    def start_infra(self) -> StackHandle:
        from testcontainers.core.container import DockerContainer
        try:
            from testcontainers.community.postgres import PostgresContainer
        except ImportError:
            from testcontainers.postgres import PostgresContainer

        pg = PostgresContainer("postgres:15", username="postgres", password="postgres", dbname="postgres")
        pg.start()
        self.containers.append(pg)
        pg_port = int(pg.get_exposed_port(5432))
        pg_host = pg.get_container_host_ip()

        # the advertised listener must carry the host port, so bind a known free one
        kport = free_port()
        kafka = (
            DockerContainer("apache/kafka:3.9.1")
            .with_bind_ports(9092, kport)
            .with_env("KAFKA_NODE_ID", "1")
            .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
            # CLIENT for the tests and services (host port), BROKER for the broker's own traffic
            .with_env("KAFKA_LISTENERS", "CLIENT://0.0.0.0:9092,BROKER://0.0.0.0:9094,CONTROLLER://localhost:9093")
            .with_env("KAFKA_ADVERTISED_LISTENERS", f"CLIENT://127.0.0.1:{kport},BROKER://localhost:9094")
            .with_env("KAFKA_INTER_BROKER_LISTENER_NAME", "BROKER")
            .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
            .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
            .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
            .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
            .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
            .with_env("KAFKA_MIN_INSYNC_REPLICAS", "1")
            .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
            .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
            .with_env("KAFKA_NUM_PARTITIONS", str(self.cfg.partitions))
        )
        for name, value in kafka_mod.image_env(
                kafka_mod.broker_security(self.cfg.kafka_admin_password, listeners=("CLIENT", "BROKER"))).items():
            kafka = kafka.with_env(name, value)
        kafka.start()
        self.containers.append(kafka)
        admin = replace(self.cfg.kafka_admin, bootstrap_servers=f"127.0.0.1:{kport}")

        mock = DockerContainer("stripe/stripe-mock:v0.203.0").with_exposed_ports(12111)
        mock.start()
        self.containers.append(mock)
        stripe_base = f"http://{mock.get_container_host_ip()}:{mock.get_exposed_port(12111)}"

        smtp_port = free_port()
        self.cfg.logs_dir.mkdir(parents=True, exist_ok=True)
        self.smtp = start_smtp_sink(smtp_port, self.cfg.maildir, self.cfg.logs_dir / "smtp-sink.log", self.pidfile)

        wait_until(lambda: run_async(lambda: kafka_mod.kafka_ready(admin)), timeout=120,
                   what=f"Kafka container on {admin.bootstrap_servers}", interval=0.5)
        run_async(lambda: kafka_mod.create_topics(admin, self.cfg.partitions))
        kafka_access.provision(admin, self.cfg.kafka_passwords())
        wait_until(lambda: stripe_mock.ready(stripe_base), timeout=60, what=f"stripe-mock container on {stripe_base}")
        run_async(lambda: _bootstrap_databases(pg_host, pg_port))

        env = {key: os.environ.get(key) or default for key, default in DEV_DEFAULTS.items()}
        env.update({
            "CALLASTAR_ENV": "test",
            "CALLASTAR_KAFKA_BOOTSTRAP_SERVERS": admin.bootstrap_servers,
            "CALLASTAR_KAFKA_USERNAME": KAFKA_ADMIN,
            "CALLASTAR_KAFKA_PASSWORD": self.cfg.kafka_admin_password,
            "CALLASTAR_STRIPE_API_BASE": stripe_base,
            "CALLASTAR_STRIPE_API_KEY": STRIPE_MOCK_KEY,
            "CALLASTAR_SMTP_HOST": "127.0.0.1",
            "CALLASTAR_SMTP_PORT": str(smtp_port),
        })
        ports = dict(self.cfg.ports)
        for svc in (*SERVICES, "gateway", "gateway_metrics"):
            ports[svc] = free_port()
        for svc in SERVICES:
            key = svc.upper()
            env[f"CALLASTAR_{key}_DATABASE_URL"] = f"postgresql+asyncpg://{svc}:{svc}@{pg_host}:{pg_port}/{svc}"
            env[f"CALLASTAR_{key}_MIGRATION_DATABASE_URL"] = (
                f"postgresql+asyncpg://{svc}_owner:{svc}_owner@{pg_host}:{pg_port}/{svc}")
            env[f"CALLASTAR_{key}_PORT"] = str(ports[svc])
            env[f"CALLASTAR_GATEWAY_{key}_URL"] = f"http://127.0.0.1:{ports[svc]}"
        env["CALLASTAR_GATEWAY_PORT"] = str(ports["gateway"])
        env["CALLASTAR_GATEWAY_METRICS_PORT"] = str(ports["gateway_metrics"])
        self.env = env
        self.ports = ports
        return StackHandle(env=dict(env), maildir=self.cfg.maildir)

    def start_services(self, handle: StackHandle) -> StackHandle:
        # the local runner's service start-up, pointed at the containers
        cfg = StackConfig(profile="test", root=self.cfg.root, ports=self.ports, environ=os.environ)
        self.services = _ContainerServices(cfg, self.env)
        self.services.start_services()
        handle.services_started = True
        return handle

    def stop(self) -> None:
        if self.services is not None:
            self.services.stop_services()
        from stack.procs import terminate

        terminate(self.pidfile.load())
        self.pidfile.save([])
        while self.containers:
            try:
                self.containers.pop().stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the others
                print(f"[stack] could not stop a container: {exc}", file=sys.stderr)


class _ContainerServices(LocalStack):
    """LocalStack whose service environment is the containers' addresses."""

    def __init__(self, cfg: StackConfig, env: dict[str, str]) -> None:
        super().__init__(cfg)
        self._env = env
        self.pidfile = PidFile(cfg.state_dir / "containers-services-pids.json")

    def service_env(self, principal: str) -> dict[str, str]:
        return {**self._env, "CALLASTAR_KAFKA_USERNAME": principal,
                "CALLASTAR_KAFKA_PASSWORD": self.cfg.kafka_passwords()[principal]}

    def handle(self) -> StackHandle:
        return StackHandle(env=dict(self._env), maildir=self.cfg.maildir)

    def stop_services(self) -> None:
        from stack.procs import terminate

        terminate(self.pidfile.load())
        self.pidfile.save([])


async def _bootstrap_databases(host: str, port: int) -> None:
    dsn = f"postgresql://postgres:postgres@{host}:{port}/postgres"
    await provision_at(dsn, [ServiceDatabase.for_development(svc) for svc in SERVICES])
