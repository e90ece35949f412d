"""Two instances of every consumer service in one consumer group each, under load
through signed Stripe webhooks: one instance of each stopped gracefully (nothing
is redelivered, the stop is bounded) or killed with SIGKILL (its partitions are
taken over and every payment still reaches the ledger exactly once)."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from stack.config import SERVICES, instance_name
from stack.kafka_access import admin_client
from tests.load.bench import create_payments, http_client, push_webhooks

PAYMENTS = 240
WEBHOOKS_PER_SECOND = 40  # the load lasts ~6 s: the stop lands in its middle
SHUTDOWN_BOUND_S = 20.0  # CALLASTAR_SHUTDOWN_TIMEOUT_S's default
DUPLICATE_DROPPED = "already applied"  # what common.applying logs when the inbox drops a redelivery


def local_stack(stack):
    """The runner that started the services (local or containers backend): instances are
    started and signalled here, as processes on this machine."""
    backend = stack.extra.get("backend")
    runner = getattr(backend, "runner", None) or getattr(backend, "services", None)
    if runner is None or not hasattr(runner, "spawn_instance"):
        pytest.fail("scaling is tested against a stack whose services run on this machine "
                    "(CALLASTAR_TEST_STACK=local or containers)")
    return runner


def group_members(stack, group: str) -> dict[str, set[tuple[str, int]]]:
    """member id -> the topic partitions it holds, as the broker describes the group."""
    client = admin_client(stack.kafka)
    described = client.describe_consumer_groups([group], request_timeout=10)[group].result()
    return {m.member_id: {(tp.topic, tp.partition) for tp in m.assignment.topic_partitions}
            for m in described.members}


async def until_members(stack, group: str, count: int, timeout: float = 90) -> dict[str, set[tuple[str, int]]]:
    """The group once it has `count` members that share every partition between them."""
    deadline = time.monotonic() + timeout
    while True:
        members = await asyncio.to_thread(group_members, stack, group)
        if len(members) == count and all(members.values()):
            return members
        if time.monotonic() > deadline:
            raise AssertionError(f"group {group} did not settle at {count} members: {members}")
        await asyncio.sleep(0.5)


def duplicates_dropped(logs_dir: Path) -> int:
    return sum(path.read_text(errors="replace").count(DUPLICATE_DROPPED)
               for svc in SERVICES for path in logs_dir.glob(f"{svc}*.log"))


@pytest.fixture
async def second_instances(stack):
    """A second instance of each consumer service, its group settled at two members."""
    runner = local_stack(stack)
    popens = {svc: runner.spawn_instance(svc, 2) for svc in SERVICES}
    for svc in SERVICES:
        runner.wait_ready(svc, 2)
    before = {svc: await until_members(stack, svc, 2) for svc in SERVICES}
    yield popens, before
    for svc, popen in popens.items():  # what the test left running
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGTERM)
            popen.wait(timeout=SHUTDOWN_BOUND_S + 10)
        runner.pidfile.remove(instance_name(svc, 2))
    for svc in SERVICES:
        await until_members(stack, svc, 1)


async def load(stack, creators_out: list[str], when_half_sent) -> list[dict]:
    """PAYMENTS payments through the gateway, then their succeeded webhooks at a steady
    pace; `when_half_sent()` runs once half of them were accepted."""
    async with http_client(stack.gateway_url, 16) as client:
        intents = await create_payments(client, stack.env["CALLASTAR_JWT_SECRET"], PAYMENTS, 16)
        creators_out += [intent["creator_id"] for intent in intents]
        half = len(intents) // 2
        await push_webhooks(client, stack.env["CALLASTAR_STRIPE_WEBHOOK_SECRET"], intents[:half], 16,
                            rate=WEBHOOKS_PER_SECOND)
        stopping = asyncio.create_task(when_half_sent())
        await push_webhooks(client, stack.env["CALLASTAR_STRIPE_WEBHOOK_SECRET"], intents[half:], 16,
                            rate=WEBHOOKS_PER_SECOND)
        await stopping
    return intents


async def payment_entries(stack, creators: list[str], timeout: float = 240) -> dict[str, int]:
    """Per creator, how many payment entries the ledger posted, once each has one."""
    connection = await asyncpg.connect(stack.asyncpg_dsn("ledger"))
    try:
        deadline = time.monotonic() + timeout
        while True:
            rows = await connection.fetch(
                "SELECT creator_id, count(*) AS n FROM journal_entries WHERE kind = 'payment' "
                "AND creator_id = ANY($1::text[]) GROUP BY creator_id", creators)
            if len(rows) == len(creators) or time.monotonic() > deadline:
                return {row["creator_id"]: row["n"] for row in rows}
            await asyncio.sleep(0.5)
    finally:
        await connection.close()


def ledger_check(stack) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ledger", "check"], env={**os.environ, **stack.env},
                          capture_output=True, text=True, timeout=300)


async def test_sigterm_stops_an_instance_within_its_bound_and_nothing_is_redelivered(stack, second_instances):
    popens, _ = second_instances
    logs_dir = local_stack(stack).cfg.logs_dir
    dropped_before = duplicates_dropped(logs_dir)
    stopped_in: dict[str, float] = {}

    async def stop_gracefully() -> None:
        started = time.monotonic()
        for popen in popens.values():
            os.killpg(popen.pid, signal.SIGTERM)
        for svc, popen in popens.items():
            await asyncio.to_thread(popen.wait, SHUTDOWN_BOUND_S + 10)
            stopped_in[svc] = time.monotonic() - started

    creators: list[str] = []
    await load(stack, creators, stop_gracefully)
    entries = await payment_entries(stack, creators)
    for svc in SERVICES:
        await until_members(stack, svc, 1)

    print(f"graceful stop of the second instances (s): { {s: round(t, 1) for s, t in stopped_in.items()} }")
    # uvicorn ends a graceful shutdown by raising the signal it was stopped with again
    assert {svc: popen.returncode for svc, popen in popens.items()} == {svc: -signal.SIGTERM for svc in SERVICES}
    assert max(stopped_in.values()) < SHUTDOWN_BOUND_S
    assert entries == {creator: 1 for creator in creators}
    assert duplicates_dropped(logs_dir) == dropped_before, "a message was redelivered after a graceful stop"


async def test_sigkill_mid_load_partitions_taken_over_every_payment_posted_once(stack, second_instances):
    popens, before = second_instances

    async def kill() -> None:
        for popen in popens.values():
            os.killpg(popen.pid, signal.SIGKILL)
        for popen in popens.values():
            await asyncio.to_thread(popen.wait, 10)

    creators: list[str] = []
    await load(stack, creators, kill)
    after = {svc: await until_members(stack, svc, 1) for svc in SERVICES}
    entries = await payment_entries(stack, creators)

    for svc in SERVICES:
        (survivor, held), = after[svc].items()
        assert survivor in before[svc], f"{svc}: the group's member after the kill is not the survivor"
        (dead, had), = ((m, p) for m, p in before[svc].items() if m != survivor)
        assert had and had <= held, f"{svc}: the dead instance's partitions {had - held} were not taken over"
    assert entries == {creator: 1 for creator in creators}
    checked = ledger_check(stack)
    assert checked.returncode == 0, checked.stdout + checked.stderr
