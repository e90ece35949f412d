"""Prerequisite checks, all done before anything is started. Each failure is
one sentence: what is missing and how to get it."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

from stack import stripe_mock
from stack.config import StackConfig, port_setting
from stack.procs import StackError, port_in_use

PG_BIN = Path(os.environ.get("CALLASTAR_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"


def java_major() -> int | None:
    java = shutil.which("java")
    if not java:
        return None
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def kafka_installed(cfg: StackConfig) -> bool:
    from stack.config import KAFKA_VERSION

    return (cfg.kafka_libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists()


def check(cfg: StackConfig, *, own_ports: set[int] = frozenset(), services: bool = True) -> None:
    """Raise StackError with the first missing prerequisite."""
    major = java_major()
    if major is None:
        raise StackError("Java 17 is needed to run Kafka: apt-get install openjdk-17-jre-headless")
    if major < 17:
        raise StackError(f"Java 17 or newer is needed to run Kafka (found Java {major}): apt-get install openjdk-17-jre-headless")
    if not kafka_installed(cfg) and not shutil.which("mvn"):
        raise StackError("Maven is needed once to download the Kafka jars from Maven Central: apt-get install maven")
    if not stripe_mock.installed(cfg) and not shutil.which("go"):
        raise StackError("Go is needed once to build stripe-mock (go install): apt-get install golang-go, or install Go from https://go.dev/dl/")
    for tool in ("initdb", "pg_ctl", "pg_isready"):
        if not (PG_BIN / tool).exists():
            raise StackError(
                f"PostgreSQL 15 is needed ({PG_BIN / tool} is missing): apt-get install postgresql-15 "
                "(or set CALLASTAR_PG_BIN to its bin directory)"
            )
    if os.geteuid() == 0 and not shutil.which("runuser"):
        raise StackError("runuser is needed to run PostgreSQL as the postgres user when running as root: apt-get install util-linux")
    names = ["pg", "kafka", "kafka_controller", "stripe_mock", "stripe_mock_https", "smtp"]
    if services:
        names += ["payments", "ledger", "payouts", "notifications", "gateway"]
    for name in names:
        port = cfg.ports[name]
        if port not in own_ports and port_in_use(port):
            raise StackError(
                f"Port {port} ({name}) on 127.0.0.1 is already taken by another program: stop it, "
                f"or set {port_setting(cfg.profile, name)} to a free port."
            )


def ensure_postgres_user() -> None:
    """PostgreSQL refuses to run as root: make sure the `postgres` system user exists."""
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(PG_USER)
        return
    except KeyError:
        pass
    useradd = shutil.which("useradd")
    if not useradd:
        raise StackError("The postgres system user is missing and useradd is not available: create a `postgres` user.")
    subprocess.run([useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER], check=True)
