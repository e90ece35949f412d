"""The baseline does the work it is measured for: every payment goes through
every stage once, a webhook Stripe delivers twice is applied once, and a forged
one is refused. On the real test stack's Kafka and PostgreSQL."""

import asyncio
import json
import time

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from stack.procs import PidFile
from tests.load import bench
from tests.load.baseline import launcher, stages, topics
from tests.load.baseline.launcher import Baseline
from tests.support.stripe_events import sign_stripe_payload

PAYMENTS = 30


async def lag(handle, baseline: Baseline) -> int:
    """Messages on the baseline's topics that a stage has not committed yet."""
    opts = topics.client_options(handle.env)
    admin, reader = AIOKafkaAdminClient(**opts), AIOKafkaConsumer(**opts)
    await admin.start()
    await reader.start()
    try:
        behind = 0
        for stage, (consumed, _) in stages.STAGES.items():
            partitions = [TopicPartition(consumed(baseline.topics), p) for p in range(handle.partitions)]
            ends = await reader.end_offsets(partitions)
            committed = await admin.list_consumer_group_offsets(baseline.topics.group(stage), partitions=partitions)
            behind += sum(end - max(0, committed[tp].offset if tp in committed else 0) for tp, end in ends.items())
        return behind
    finally:
        await reader.stop()
        await admin.close()


async def settled(handle, baseline: Baseline, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (behind := await lag(handle, baseline)) != 0:
        assert time.monotonic() < deadline, f"the baseline's stages are still {behind} messages behind"
        await asyncio.sleep(0.3)


async def rows(dsn: str, query: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetch(query)
    finally:
        await connection.close()


@pytest.fixture
def pidfile(infra) -> PidFile | None:
    """The local stack's pid file: a test run killed midway leaves no baseline
    process behind, the stack's next start stops it with the rest."""
    runner = getattr(infra.extra.get("backend"), "runner", None)
    return runner.pidfile if runner else None


async def test_every_payment_goes_through_every_stage_once(infra, pidfile, tmp_path):
    secret = infra.env["CALLASTAR_STRIPE_WEBHOOK_SECRET"]
    async with launcher.running(infra, tmp_path, pidfile) as baseline:
        intents = await launcher.seed_payments(baseline.dsns["payments"], PAYMENTS)
        events = [bench.succeeded_event(intent) for intent in intents]
        async with bench.http_client(baseline.intake_url, 8) as client:
            await asyncio.gather(*(bench.post_webhook(client, secret, event) for event in events))
            await bench.post_webhook(client, secret, events[0])  # Stripe delivers an event twice
            forged = json.dumps(bench.succeeded_event(intents[1])).encode()
            async with client.post("/webhooks/stripe", data=forged, headers={
                    "Stripe-Signature": sign_stripe_payload(forged, "whsec_not_ours")}) as response:
                assert response.status == 400
        await settled(infra, baseline)
        dsn = baseline.dsns
        payments = await rows(dsn["payments"], "SELECT payment_id, status FROM payments")
        inboxes = {stage: await rows(dsn[stage], "SELECT event_id FROM inbox") for stage in dsn}
        entries = await rows(dsn["ledger"], "SELECT id, reference, creator_id FROM journal_entries")
        postings = await rows(dsn["ledger"], "SELECT entry_id, account, amount_minor FROM postings")
        balances = await rows(dsn["ledger"], "SELECT account, balance_minor FROM account_balances")
        notified = await rows(dsn["notifications"], "SELECT source_event_id, recipient_key FROM notifications")
        projected = await rows(dsn["payouts"], "SELECT creator_id, available_minor FROM creator_balances")

    ids = {intent["payment_id"] for intent in intents}
    shares = {intent["creator_id"]: intent["amounts"]["creator_share_minor"] for intent in intents}
    prices = sum(intent["amounts"]["price_minor"] for intent in intents)
    assert {(p["payment_id"], p["status"]) for p in payments} == {(i, "succeeded") for i in ids}
    assert {row["event_id"] for row in inboxes["payments"]} == {event["id"] for event in events}
    assert len(inboxes["ledger"]) == len(inboxes["notifications"]) == len(inboxes["payouts"]) == PAYMENTS
    assert sorted(e["reference"] for e in entries) == sorted(f"payment:{i}" for i in ids)
    assert sorted(p["entry_id"] for p in postings) == sorted([e["id"] for e in entries] * 3)
    assert {b["account"]: b["balance_minor"] for b in balances} == {
        "stripe:balance": prices, "platform:revenue": sum(shares.values()) - prices,
        **{f"creator:{creator}:available": -share for creator, share in shares.items()}}
    assert sorted(n["source_event_id"] for n in notified) == sorted(f"payment-succeeded:{i}" for i in ids)
    assert {p["creator_id"]: p["available_minor"] for p in projected} == shares
