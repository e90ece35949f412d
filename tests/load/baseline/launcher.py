"""Start the baseline on a running stack (its databases and topics made afresh,
the intake and the four stages as processes), seed its payments, stop it."""

import asyncio
import secrets
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from stack.config import repo_root
from stack.handle import StackHandle
from stack.procs import PidFile, Proc, spawn, terminate, wait_until
from tests.load.baseline import intake, schema, stages, topics

PACKAGE = "tests.load.baseline"
SHARE_BPS = 8500  # the creator's share, as the suite's default


@dataclass(frozen=True)
class Baseline:
    intake_url: str
    dsns: dict[str, str]  # stage -> its database
    topics: topics.Topics
    processes: list[Proc]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Starting:
    proc: Proc
    wait: Callable[[], None]  # returns once the process is ready; raises if it exits or times out


def start_process(name: str, module: str, args: list[str], env: dict[str, str], logs_dir: Path,
                  pidfile: PidFile | None, ready: Callable[[bytes], bool]) -> Starting:
    log = logs_dir / f"baseline-{name}.log"
    written = log.stat().st_size if log.exists() else 0  # the log is appended to: read this run's part
    popen, proc = spawn(f"baseline-{name}", [sys.executable, "-m", f"{PACKAGE}.{module}", *args], log=log,
                        env=env, cwd=repo_root(), marker=f"{PACKAGE}.{module}", pidfile=pidfile)
    return Starting(proc, lambda: wait_until(lambda: ready(log.read_bytes()[written:]), timeout=60,
                                             what=f"the baseline's {name}", proc=popen, log=log, interval=0.2))


@asynccontextmanager
async def running(handle: StackHandle, logs_dir: Path, pidfile: PidFile | None = None) -> AsyncIterator[Baseline]:
    """The baseline on `handle`'s Kafka and PostgreSQL, stopped (and its topics
    deleted) on leaving. Its processes log in to Kafka as the stack's super user
    (handle.env says who that is); `pidfile` records them with the stack's."""
    dsns = await schema.create_databases({stage: handle.asyncpg_dsn(stage, owner=True) for stage in schema.STAGES})
    run_topics = topics.Topics.fresh()
    await topics.create(handle.env, run_topics, handle.partitions)
    port = free_port()
    env = {**handle.env, topics.PREFIX: run_topics.prefix, intake.PORT: str(port), "PYTHONUNBUFFERED": "1"}
    url = f"http://127.0.0.1:{port}"
    starting: list[Starting] = []
    try:
        for stage in schema.STAGES:
            starting.append(start_process(stage, "stages", [stage], {**env, stages.DSN: dsns[stage]}, logs_dir,
                                          pidfile, lambda text: b"ready" in text))
        starting.append(start_process("intake", "intake", [], env, logs_dir, pidfile,
                                      lambda _: httpx.get(f"{url}/ready", timeout=2).status_code == 200))
        # Together: each spends a while importing before it is ready.
        await asyncio.gather(*(asyncio.to_thread(s.wait) for s in starting))
        yield Baseline(url, dsns, run_topics, [s.proc for s in starting])
    finally:
        processes = [s.proc for s in starting]
        await asyncio.to_thread(terminate, processes)
        if pidfile is not None:
            for proc in processes:
                pidfile.remove(proc.name)
        await topics.delete(handle.env, run_topics)


async def seed_payments(dsn: str, n: int) -> list[dict]:
    """N pending payments, each for its own creator, as the suite's bench makes
    them through the gateway; returned in the shape of the gateway's answer
    (what tests.load.bench's webhooks are built from), with "creator_id"."""
    fan = f"bench-fan-{secrets.token_hex(4)}"
    intents = []
    for i in range(n):
        price = 1000 + i % 9000
        share = -(-price * SHARE_BPS // 10_000)  # ceil, as the suite's
        intents.append({"payment_id": str(uuid.uuid4()), "stripe_payment_intent_id": f"pi_{secrets.token_hex(12)}",
                        "creator_id": f"bench-{secrets.token_hex(6)}",
                        "amounts": {"price_minor": price, "creator_share_minor": share,
                                    "platform_fee_minor": price - share, "currency": "EUR"}})
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("""
            INSERT INTO payments (payment_id, fan_id, creator_id, price_minor, creator_share_minor, currency,
                                  stripe_payment_intent_id, status)
            SELECT id, $1, creator, price, share, 'EUR', intent, 'pending'
            FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[])
                AS u(id, creator, price, share, intent)""",
            fan, [i["payment_id"] for i in intents], [i["creator_id"] for i in intents],
            [i["amounts"]["price_minor"] for i in intents], [i["amounts"]["creator_share_minor"] for i in intents],
            [i["stripe_payment_intent_id"] for i in intents])
    finally:
        await connection.close()
    return intents
