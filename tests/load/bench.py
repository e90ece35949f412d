"""Webhook throughput and end-to-end latency, through the real stack.

    ./callastar bench [--payments 2000] [--concurrency 32]

Creates N payments through the gateway (each for its own creator), then pushes
one signed `payment_intent.succeeded` webhook per payment through the gateway
with bounded concurrency, and waits until the ledger has posted all N entries.
Prints webhooks accepted per second, end-to-end events per second, and the
latency from "gateway answered 200" to "ledger entry committed" (p50/p95/p99).

By default it starts its own stack (profile `bench`-like: the test profile's
ports); `--gateway-url` and `--ledger-dsn` point it at one already running.
"""

import argparse
import asyncio
import json
import os
import secrets
import statistics
import time
from datetime import datetime

import asyncpg
import httpx

from gateway.auth import issue_token
from tests.support.stripe_events import sign_stripe_payload, stripe_event


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def create_payments(client: httpx.AsyncClient, jwt_secret: str, n: int, concurrency: int) -> list[dict]:
    slots = asyncio.Semaphore(concurrency)
    fan = f"bench-fan-{secrets.token_hex(4)}"
    headers = {"Authorization": f"Bearer {issue_token(fan, 'fan', jwt_secret, ttl_s=7200)}"}

    async def one(i: int) -> dict:
        async with slots:
            creator = f"bench-{secrets.token_hex(6)}"
            response = await client.post("/api/payments/intents", headers=headers, json={
                "creator_id": creator, "price_minor": 1000 + i % 9000, "currency": "EUR"})
            response.raise_for_status()
            return {**response.json(), "creator_id": creator}

    return await asyncio.gather(*(one(i) for i in range(n)))


def succeeded_event(intent: dict) -> dict:
    return stripe_event("payment_intent.succeeded", {
        "id": intent["stripe_payment_intent_id"], "object": "payment_intent",
        "amount": intent["amounts"]["price_minor"], "currency": "eur", "status": "succeeded",
        "latest_charge": f"ch_{secrets.token_hex(12)}"})


async def push_webhooks(client: httpx.AsyncClient, secret: str, intents: list[dict], concurrency: int) -> dict[str, float]:
    """Returns, per creator, the wall-clock time the gateway accepted its webhook."""
    slots = asyncio.Semaphore(concurrency)
    accepted: dict[str, float] = {}

    async def one(intent: dict) -> None:
        body = json.dumps(succeeded_event(intent)).encode()
        async with slots:
            response = await client.post("/webhooks/stripe", content=body, headers={
                "Stripe-Signature": sign_stripe_payload(body, secret), "Content-Type": "application/json"})
        response.raise_for_status()
        accepted[intent["creator_id"]] = time.time()

    await asyncio.gather(*(one(intent) for intent in intents))
    return accepted


async def wait_for_ledger(dsn: str, creators: list[str], timeout: float) -> dict[str, datetime]:
    connection = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while True:
            rows = await connection.fetch(
                "SELECT creator_id, created_at FROM journal_entries WHERE creator_id = ANY($1::text[])", creators)
            if len(rows) == len(creators) or time.monotonic() > deadline:
                return {row["creator_id"]: row["created_at"] for row in rows}
            await asyncio.sleep(0.2)
    finally:
        await connection.close()


async def run(args: argparse.Namespace, gateway_url: str, ledger_dsn: str, env: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60,
                                 limits=httpx.Limits(max_connections=args.concurrency * 2)) as client:
        started = time.monotonic()
        intents = await create_payments(client, env["CALLASTAR_JWT_SECRET"], args.payments, args.concurrency)
        print(f"created {len(intents)} payments in {time.monotonic() - started:.1f}s")
        started = time.monotonic()
        accepted = await push_webhooks(client, env["CALLASTAR_STRIPE_WEBHOOK_SECRET"], intents, args.concurrency)
        push_seconds = time.monotonic() - started
    committed = await wait_for_ledger(ledger_dsn, list(accepted), args.timeout)
    all_seconds = time.monotonic() - started
    latencies = sorted(committed[c].timestamp() - accepted[c] for c in committed)
    print(f"webhooks: {len(accepted)} accepted in {push_seconds:.2f}s = {len(accepted) / push_seconds:.0f}/s "
          f"(concurrency {args.concurrency})")
    print(f"end to end: {len(committed)}/{len(accepted)} ledger entries in {all_seconds:.2f}s = "
          f"{len(committed) / all_seconds:.0f}/s")
    if latencies:
        print("latency webhook accepted -> ledger entry written: "
              f"p50 {percentile(latencies, 50) * 1000:.0f} ms, p95 {percentile(latencies, 95) * 1000:.0f} ms, "
              f"p99 {percentile(latencies, 99) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms, "
              f"mean {statistics.fmean(latencies) * 1000:.0f} ms")
    if len(committed) != len(accepted):
        raise SystemExit(f"only {len(committed)} of {len(accepted)} webhooks reached the ledger in {args.timeout}s")


def main() -> None:
    parser = argparse.ArgumentParser(prog="./callastar bench")
    parser.add_argument("--payments", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--gateway-url", help="a running gateway (default: start a stack)")
    parser.add_argument("--ledger-dsn", help="the running ledger's database (postgresql://...)")
    args = parser.parse_args()
    if args.gateway_url:
        if not args.ledger_dsn:
            parser.error("--ledger-dsn goes with --gateway-url")
        asyncio.run(run(args, args.gateway_url, args.ledger_dsn, dict(os.environ)))
        return
    from stack.config import StackConfig
    from stack.runner import LocalStack

    runner = LocalStack(StackConfig.for_profile("test"))
    try:
        runner.start_infra(reset=True)
        handle = runner.start_services()
        asyncio.run(run(args, handle.gateway_url, handle.asyncpg_dsn("ledger"), handle.env))
    finally:
        runner.stop()


if __name__ == "__main__":
    main()
