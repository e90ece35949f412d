"""Dead letters repaired against the real stack: listed and replayed by an admin
through the gateway (a non-admin refused), replayed from the service's command
line, each replay audited, a replayed message never replayed twice, and a
replayed duplicate still dropped by the inbox."""

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from common.kafka import make_producer
from contracts.events.payments import PaymentSucceeded, PaymentSucceededData
from contracts.topics import PAYMENT_SUCCEEDED, dlq
from tests.support.polling import eventually


def payment(creator_id: str) -> PaymentSucceeded:
    return PaymentSucceeded.new(
        PaymentSucceededData(
            payment_id=f"pay_{uuid.uuid4().hex[:10]}", fan_id="fan_dlq", creator_id=creator_id, price_minor=10000,
            creator_share_minor=8500, platform_fee_minor=1500, currency="EUR",
            stripe_payment_intent_id=f"pi_{uuid.uuid4().hex[:10]}", succeeded_at=datetime.now(UTC),
        ),
        producer="payments", creator_id=creator_id,
    )


async def dead_letter_as_notifications_would(stack, topic: str, value: bytes, key: bytes) -> None:
    """A message the notifications consumer gave up on (a database that was away, say),
    on its DLQ with the headers common.consumers writes."""
    producer = make_producer(stack.kafka, client_id="tests-dlq")
    await producer.start()
    try:
        await producer.send_and_wait(dlq(topic), value, key=key, headers=[
            ("x-original-topic", topic.encode()), ("x-original-partition", b"0"),
            ("x-original-offset", b"0"), ("x-consumer-group", b"notifications"),
            ("x-error-type", b"OperationalError"), ("x-error", b"the database was away"),
            ("x-attempts", b"4"), ("x-failed-at", datetime.now(UTC).isoformat().encode()),
        ])
    finally:
        await producer.stop()


def run_cli(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "notifications", "dlq", *args], env={**os.environ, **stack.env},
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
async def audit(stack):
    connection = await asyncpg.connect(stack.asyncpg_dsn("notifications"))
    yield connection
    await connection.close()


async def test_an_admin_lists_and_replays_dead_letters_each_once_and_audited(stack, gateway, audit) -> None:
    creator = f"creator_dlq_{uuid.uuid4().hex[:8]}"
    event = payment(creator)
    for _ in range(2):  # dead-lettered twice: the second copy is a duplicate once the first is replayed
        await dead_letter_as_notifications_would(stack, PAYMENT_SUCCEEDED, event.model_dump_json().encode(),
                                                 event.key())
    admin = gateway.auth("admin-dlq", "admin")

    async def ours() -> list[dict]:
        response = await gateway.http.get("/api/admin/dead-letters/notifications", headers=admin)
        assert response.status_code == 200, response.text
        return [m for m in response.json() if m["event_id"] == str(event.event_id)]

    listed = await eventually(lambda: _two(ours))
    assert [m["replayed"] for m in listed] == [False, False]
    assert {m["error"] for m in listed} == {"the database was away"}
    first, second = (m["id"] for m in listed)

    refused = await gateway.http.get("/api/admin/dead-letters/notifications", headers=gateway.auth(creator, "creator"))
    assert refused.status_code == 403
    refused = await gateway.http.post("/api/admin/dead-letters/notifications/replay", json={"ids": [first]},
                                      headers=gateway.auth(creator, "creator"))
    assert refused.status_code == 403
    assert (await gateway.http.get("/api/admin/dead-letters/billing", headers=admin)).status_code == 404

    replayed = await gateway.http.post("/api/admin/dead-letters/notifications/replay", json={"ids": [first]},
                                       headers=admin)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == [{"id": first, "outcome": "applied", "detail": None}]
    unread = await gateway.http.get("/api/notifications/unread-count", headers=gateway.auth(creator, "creator"))
    assert unread.json() == {"unread": 1}

    again = await gateway.http.post("/api/admin/dead-letters/notifications/replay", json={"ids": [first]},
                                    headers=admin)
    assert again.json() == [{"id": first, "outcome": "already replayed", "detail": None}]

    # The second copy, from the command line: the inbox drops it.
    done = run_cli(stack, "replay", "--id", second)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"id": second, "outcome": "duplicate", "detail": None}
    unread = await gateway.http.get("/api/notifications/unread-count", headers=gateway.auth(creator, "creator"))
    assert unread.json() == {"unread": 1}
    assert [m["replayed"] for m in await ours()] == [True, True]

    rows = await audit.fetch(
        "SELECT dlq_topic || ':' || dlq_partition || ':' || dlq_offset AS id, replayed_by, outcome "
        "FROM dead_letter_replays WHERE event_id = $1 ORDER BY id", event.event_id)
    assert sorted((r["id"], r["replayed_by"].split(":")[0], r["outcome"]) for r in rows) == sorted(
        [(first, "admin", "applied"), (second, "cli", "duplicate")])
    assert {r["replayed_by"] for r in rows if r["id"] == first} == {"admin:admin-dlq"}


async def test_a_message_that_cannot_be_applied_is_shown_and_its_failed_replay_audited(stack, gateway, audit) -> None:
    broken = b'{"not": "an event"}'
    key = f"someone-{uuid.uuid4().hex[:8]}"
    await dead_letter_as_notifications_would(stack, PAYMENT_SUCCEEDED, broken, key.encode())

    async def broken_one() -> str | None:
        listed = run_cli(stack, "list")
        assert listed.returncode == 0, listed.stderr
        return next((item["id"] for item in map(json.loads, listed.stdout.splitlines()) if item["key"] == key), None)

    message_id = await eventually(broken_one)
    shown = run_cli(stack, "show", message_id)
    assert shown.returncode == 0 and json.loads(shown.stdout)["payload"] == broken.decode()
    done = run_cli(stack, "replay", "--id", message_id)
    assert done.returncode == 1
    outcome = json.loads(done.stdout.splitlines()[-1])
    assert outcome["outcome"] == "failed" and "ValidationError" in outcome["detail"]
    topic, partition, offset = message_id.rsplit(":", 2)
    rows = await audit.fetch("SELECT outcome, replayed_by FROM dead_letter_replays WHERE dlq_topic = $1 AND "
                             "dlq_partition = $2 AND dlq_offset = $3", topic, int(partition), int(offset))
    assert [r["outcome"] for r in rows] == ["failed"] and rows[0]["replayed_by"].startswith("cli:")


async def _two(listing) -> list[dict] | None:
    found = await listing()
    return found if len(found) == 2 else None
