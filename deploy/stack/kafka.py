"""Apache Kafka 3.9.1 in KRaft combined mode (one broker that is its own
controller), run from jars resolved by Maven, plus topic creation from the
contracts registry (shared by every backend)."""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid

from common.kafka import KafkaAccess
from stack.config import KAFKA_VERSION, StackConfig
from stack.kafka_access import ADMIN
from stack.procs import PidFile, StackError, run_async, spawn, wait_until


def install_jars(cfg: StackConfig) -> None:
    """`mvn dependency:copy-dependencies` into .state/kafka-libs (shared by all profiles), once."""
    marker = cfg.kafka_libs / f"kafka_2.13-{KAFKA_VERSION}.jar"
    if marker.exists():
        return
    print(f"Downloading Kafka {KAFKA_VERSION} jars from Maven Central (once) ...", flush=True)
    tmp = cfg.state_root / "kafka-libs.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    cfg.state_root.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(cfg.root / "deploy" / "pom.xml"), "dependency:copy-dependencies",
         f"-DoutputDirectory={tmp}"],
        capture_output=True, text=True,
    )
    if result.returncode != 0 or not (tmp / marker.name).exists():
        raise StackError(f"Maven could not download the Kafka jars: {(result.stdout + result.stderr).strip()[-2000:]}")
    shutil.rmtree(cfg.kafka_libs, ignore_errors=True)
    tmp.replace(cfg.kafka_libs)


LOG4J = """\
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={log}
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
"""


class Kafka:
    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self.base = cfg.state_dir / "kafka"
        self.data = self.base / "data"
        self.props = self.base / "server.properties"
        self.log4j = self.base / "log4j.properties"
        self.log = cfg.logs_dir / "kafka.log"
        self.port = cfg.ports["kafka"]
        self.cport = cfg.ports["kafka_controller"]

    def classpath(self) -> str:
        return str(self.cfg.kafka_libs / "*")

    def write_config(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.cfg.logs_dir.mkdir(parents=True, exist_ok=True)
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.cport}",
            "listeners": f"CLIENT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.cport}",
            "advertised.listeners": f"CLIENT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "CLIENT",
            **broker_security(self.cfg.kafka_admin_password, listeners=("CLIENT",)),
            "log.dirs": str(self.data),
            "num.partitions": str(self.cfg.partitions),
            "default.replication.factor": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "min.insync.replicas": "1",
            "auto.create.topics.enable": "false",
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.hours": "168",
            "log.segment.bytes": str(64 * 1024 * 1024),
            "num.network.threads": "2",
            "num.io.threads": "4",
        }
        self.props.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        self.log4j.write_text(LOG4J.format(log=self.log))

    @property
    def formatted(self) -> bool:
        return (self.data / "meta.properties").exists()

    def format(self) -> None:
        if self.formatted:
            return
        shutil.rmtree(self.data, ignore_errors=True)
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(
            ["java", *self.jvm_flags(), "-cp", self.classpath(), "kafka.tools.StorageTool", "format",
             "-t", cluster_id, "-c", str(self.props)],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise StackError(f"Kafka storage format failed: {(result.stdout + result.stderr).strip()[-2000:]}")

    def jvm_flags(self) -> list[str]:
        return [
            f"-Dlog4j.configuration=file:{self.log4j}",
            "-Djava.awt.headless=true",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
        ]

    def start(self, pidfile: PidFile) -> None:
        self.write_config()
        self.format()
        popen, _ = spawn(
            "kafka",
            ["java", "-Xmx512m", "-Xms128m", *self.jvm_flags(), "-cp", self.classpath(), "kafka.Kafka", str(self.props)],
            log=self.cfg.logs_dir / "kafka.out", marker="kafka.Kafka", pidfile=pidfile,
        )
        wait_until(lambda: run_async(lambda: kafka_ready(self.cfg.kafka_admin)), timeout=90,
                   what=f"Kafka on {self.cfg.kafka_bootstrap}", proc=popen, log=self.log, interval=0.5)

    def wipe(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


def broker_security(admin_password: str, listeners: tuple[str, ...]) -> dict[str, str]:
    """SASL on every listener (`listeners` and CONTROLLER) and ACLs (stack.kafka_access):
    services log in with SCRAM-SHA-512; the super user `admin`, whose password the
    broker holds itself, with PLAIN (the broker's own connections and the
    provisioning of the rest). Shared by the local broker, the containers backend
    and docker-compose (as KAFKA_* variables, `image_env`)."""
    plain = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
             f'username="{ADMIN}" password="{admin_password}" user_{ADMIN}="{admin_password}";')
    props = {
        "listener.security.protocol.map": ",".join(f"{name}:SASL_PLAINTEXT" for name in (*listeners, "CONTROLLER")),
        "sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": plain,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{ADMIN}",
        "allow.everyone.if.no.acl.found": "false",
    }
    for name in listeners:
        props[f"listener.name.{name.lower()}.plain.sasl.jaas.config"] = plain
        props[f"listener.name.{name.lower()}.scram-sha-512.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;")
    return props


def image_env(props: dict[str, str]) -> dict[str, str]:
    """Broker properties as the apache/kafka image's variables: `.` -> `_`, `_` -> `__`, `-` -> `___`."""
    def name(prop: str) -> str:
        return "KAFKA_" + prop.replace("_", "__").replace("-", "___").replace(".", "_").upper()

    return {name(prop): value for prop, value in props.items()}


async def kafka_ready(access: KafkaAccess) -> bool:
    """The broker answers metadata requests and has a controller."""
    import logging

    from aiokafka.admin import AIOKafkaAdminClient

    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # "Unable connect" until the broker listens is expected
    admin = AIOKafkaAdminClient(**access.client_options(), request_timeout_ms=3000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers")) and cluster.get("controller_id", -1) != -1
    finally:
        await admin.close()
        quiet.setLevel(level)


def topic_names() -> list[str]:
    """Every topic of the contracts registry, and its dead-letter topic."""
    from contracts import topics

    names: list[str] = []
    for name in topics.ALL:
        names += [name, topics.dlq(name)]
    return names


async def create_topics(access: KafkaAccess, partitions: int, names: list[str] | None = None) -> list[str]:
    """Create the topics that do not exist yet (idempotent); return those created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    names = topic_names() if names is None else names
    admin = AIOKafkaAdminClient(**access.client_options(), request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            try:
                response = await admin.create_topics(
                    [NewTopic(name=n, num_partitions=partitions, replication_factor=1) for n in missing],
                    timeout_ms=30000,
                )
            except TopicAlreadyExistsError:
                response = None
            errors = [
                (topic, code, msg) for topic, code, msg, *_ in getattr(response, "topic_errors", [])
                if code not in (0, TopicAlreadyExistsError.errno)
            ]
            if errors:
                raise StackError(f"Kafka refused to create topics: {errors}")
        return missing
    finally:
        await admin.close()


async def describe_partitions(access: KafkaAccess, names: list[str] | None = None) -> dict[str, int]:
    """Partition count per existing topic (all topics when `names` is None)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**access.client_options(), request_timeout_ms=10000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = sorted(existing if names is None else existing & set(names))
        if not wanted:
            return {}
        described = await admin.describe_topics(wanted)
        return {t["topic"]: len(t["partitions"]) for t in described if t.get("error_code", 0) == 0}
    finally:
        await admin.close()
