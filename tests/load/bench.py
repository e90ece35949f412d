"""Webhook throughput and end-to-end latency, through the real stack.

    ./callastar bench [--payments 2000] [--concurrency 32] [--rate 0]

Creates N payments through the gateway (each for its own creator), then pushes
one signed `payment_intent.succeeded` webhook per payment through the gateway
with bounded concurrency, and waits until the ledger has posted all N entries.
Prints webhooks accepted per second, end-to-end events per second, the
latency from "gateway answered 200" to "ledger entry committed" (p50/p95/p99),
its p50 per quarter of the webhooks, and the CPU time each part of the stack
spent per event (read from the processes on this machine).

`--rate R` offers the webhooks at R per second (open loop) instead of as fast
as the gateway answers: a rate is sustained when the end-to-end rate follows it
and the latency of the last quarter is no higher than that of the first.

    ./callastar bench --mix [--operations 1000] [--seed 4] [--concurrency 32]

A mixed workload instead: of the operations, 85 % are payments, 10 % partial
refunds and 5 % disputes, in an order (and with refund amounts and dispute
outcomes) drawn from `--seed`, so two runs with one seed push the same mix.
A refund is one `refund.created` webhook (status succeeded) made in Stripe's
dashboard, matched by payments through its PaymentIntent; a dispute is three
webhooks in turn (`charge.dispute.created`, `.funds_withdrawn` with a 20.00
fee, `.closed` won or lost). Refunds and disputes are about payments that
succeeded before the timed part starts. Prints webhooks accepted per second,
end-to-end events per second, and per event type the latency from "gateway
answered 200" to "the ledger entry that event causes committed"
(p50/p95/p99). Each wait for the ledger is bounded by `--timeout`. With
`--rate`, operations (a dispute's three webhooks count as one) start at that rate.

    ./callastar bench --baseline [--baseline-rate R] [any of the above]

After the run above, the same kind of payment webhooks (`--payments` of them,
offered at `--baseline-rate`, default `--rate`) go through a pipeline that does
the same essential work with no framework (tests.load.baseline), on the same
Kafka and PostgreSQL (the suite's services stopped first), measured the same way; then both rates, CPU per payment
and their ratios, and issue 13's floors (met or not; printed, not asserted).

After the suite's run it prints each service's resident memory (flagged above
200 MB).

By default it starts its own stack on the test profile's ports, from empty
databases and topics, and wipes them after the run; `--gateway-url` and `--ledger-dsn` point it at one already running.
"""

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiohttp
import asyncpg

from gateway.auth import issue_token
from stack.handle import StackHandle
from stack.config import StackConfig
from stack.procs import PidFile, terminate
from stack.runner import LocalStack
from tests.load import floors, memory
from tests.load.baseline import launcher
from tests.load.cpu import PROCESSES, CpuSample, report, stack_pids
from tests.load.measured import Measured, percentile
from tests.support.stripe_events import sign_stripe_payload, stripe_event


async def create_payments(client: aiohttp.ClientSession, jwt_secret: str, n: int, concurrency: int) -> list[dict]:
    """N payments, each for its own creator: the creator puts an offer in the
    catalogue, then the fan opens an intent naming it (the server sets the price)."""
    slots = asyncio.Semaphore(concurrency)
    fan = f"bench-fan-{secrets.token_hex(4)}"
    headers = {"Authorization": f"Bearer {issue_token(fan, 'fan', jwt_secret, ttl_s=7200)}"}

    async def one(i: int) -> dict:
        async with slots:
            creator = f"bench-{secrets.token_hex(6)}"
            creator_headers = {"Authorization": f"Bearer {issue_token(creator, 'creator', jwt_secret, ttl_s=7200)}"}
            async with client.post("/api/offers", headers=creator_headers, json={
                    "title": "Bench call", "price_minor": 1000 + i % 9000, "currency": "EUR"}) as response:
                response.raise_for_status()
                offer = await response.json()
            async with client.post("/api/payments/intents", headers=headers,
                                   json={"offer_id": offer["offer_id"]}) as response:
                response.raise_for_status()
                return {**await response.json(), "creator_id": creator}

    return await asyncio.gather(*(one(i) for i in range(n)))


def succeeded_event(intent: dict) -> dict:
    return stripe_event("payment_intent.succeeded", {
        "id": intent["stripe_payment_intent_id"], "object": "payment_intent",
        "amount": intent["amounts"]["price_minor"], "amount_received": intent["amounts"]["price_minor"],
        "currency": "eur", "status": "succeeded",
        "latest_charge": f"ch_{secrets.token_hex(12)}"})


async def post_webhook(client: aiohttp.ClientSession, secret: str, event: dict) -> None:
    body = json.dumps(event).encode()
    async with client.post("/webhooks/stripe", data=body, headers={
            "Stripe-Signature": sign_stripe_payload(body, secret), "Content-Type": "application/json"}) as response:
        response.raise_for_status()


class Pace:
    """Open-loop pacing: the i-th send starts no earlier than i/rate seconds after
    the first, whatever the answers' speed (rate 0: as fast as answers come)."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._start = time.monotonic()

    async def wait_turn(self, i: int) -> None:
        if self._rate:
            await asyncio.sleep(max(0.0, self._start + i / self._rate - time.monotonic()))


async def push_webhooks(client: aiohttp.ClientSession, secret: str, intents: list[dict], concurrency: int,
                        rate: float = 0) -> dict[str, float]:
    """Returns, per creator, the wall-clock time the gateway accepted its webhook."""
    slots = asyncio.Semaphore(concurrency)
    pace = Pace(rate)
    accepted: dict[str, float] = {}

    async def one(i: int, intent: dict) -> None:
        await pace.wait_turn(i)
        async with slots:
            await post_webhook(client, secret, succeeded_event(intent))
        accepted[intent["creator_id"]] = time.time()

    await asyncio.gather(*(one(i, intent) for i, intent in enumerate(intents)))
    return accepted


def http_client(gateway_url: str, concurrency: int) -> aiohttp.ClientSession:
    # aiohttp rather than httpx: httpx's connection pool checks every pooled
    # connection on each request, which made the load generator itself one of
    # the busiest processes on the machine it measures.
    return aiohttp.ClientSession(base_url=gateway_url, timeout=aiohttp.ClientTimeout(total=60),
                                 connector=aiohttp.TCPConnector(limit=concurrency * 2))


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


def print_rates(rate: float, concurrency: int, accepted: int, committed: int, push_seconds: float,
                all_seconds: float) -> None:
    load = f"offered {rate:.0f} operations/s" if rate else f"concurrency {concurrency}"
    print(f"webhooks: {accepted} accepted in {push_seconds:.2f}s = {accepted / push_seconds:.0f}/s ({load})")
    print(f"end to end: {committed}/{accepted} ledger entries in {all_seconds:.2f}s = "
          f"{committed / all_seconds:.0f}/s")


# The processes whose CPU counts (None: every part of any stack on this machine).
Scope = Callable[[], set[int] | None]


def everywhere() -> None:
    return None


async def time_payments(client: aiohttp.ClientSession, secret: str, intents: list[dict], ledger_dsn: str,
                        args: argparse.Namespace, rate: float, scope: Scope) -> Measured:
    """Push one payment webhook per intent and wait for their ledger entries."""
    cpu_before = CpuSample.take(scope())
    started = time.monotonic()
    accepted = await push_webhooks(client, secret, intents, args.concurrency, rate)
    push_seconds = time.monotonic() - started
    committed = await wait_for_ledger(ledger_dsn, list(accepted), args.timeout)
    all_seconds = time.monotonic() - started
    cpu_spent = CpuSample.take(scope()).since(cpu_before)
    # In the order the webhooks were accepted.
    in_order = [committed[c].timestamp() - accepted[c] for c in sorted(committed, key=accepted.__getitem__)]
    return Measured(rate, len(accepted), len(committed), push_seconds, all_seconds, in_order, cpu_spent)


def print_payments(run: Measured, concurrency: int, timeout: float) -> None:
    print_rates(run.offered, concurrency, run.accepted, run.committed, run.push_seconds, run.all_seconds)
    if run.committed:
        latencies = sorted(run.latencies)
        print("latency webhook accepted -> ledger entry written: "
              f"p50 {percentile(latencies, 50) * 1000:.0f} ms, p95 {percentile(latencies, 95) * 1000:.0f} ms, "
              f"p99 {percentile(latencies, 99) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms, "
              f"mean {statistics.fmean(latencies) * 1000:.0f} ms")
        # Sustained means the pipeline keeps pace: the latency of the last
        # webhooks is no higher than that of the first ones.
        print("p50 latency by quarter of the webhooks: "
              + ", ".join(f"{p50 * 1000:.0f} ms" for p50 in run.quarter_p50s()))
        print(report(run.cpu, run.committed))
    if run.committed != run.accepted:
        raise SystemExit(f"only {run.committed} of {run.accepted} webhooks reached the ledger in {timeout}s")


async def run(args: argparse.Namespace, gateway_url: str, ledger_dsn: str, env: dict[str, str],
              scope: Scope = everywhere) -> Measured:
    async with http_client(gateway_url, args.concurrency) as client:
        started = time.monotonic()
        intents = await create_payments(client, env["CALLASTAR_JWT_SECRET"], args.payments, args.concurrency)
        print(f"created {len(intents)} payments in {time.monotonic() - started:.1f}s")
        measured = await time_payments(client, env["CALLASTAR_STRIPE_WEBHOOK_SECRET"], intents, ledger_dsn, args,
                                       args.rate, scope)
    print_payments(measured, args.concurrency, args.timeout)
    return measured


# ---- the mixed workload (--mix) ----------------------------------------------------

MIX = (("payment", 85), ("refund", 10), ("dispute", 5))  # percent of the operations
DISPUTE_FEE_MINOR = 2000  # Stripe's EEA dispute fee, 20.00 EUR, as its balance transaction states it

# Each webhook the mix sends, and the kind of the ledger entry it causes.
LEDGER_KIND = {
    "payment_intent.succeeded": "payment",
    "refund.created": "refund",
    "charge.dispute.created": "dispute_opened",
    "charge.dispute.funds_withdrawn": "dispute_funds_withdrawn",
    "charge.dispute.closed": "dispute_closed",
}


@dataclass(frozen=True)
class Operation:
    kind: str  # payment | refund | dispute
    intent: dict  # our answer for the payment it is about (with "creator_id")
    refund_minor: int = 0  # refund: the part of the price given back
    outcome: str = ""  # dispute: won | lost


def plan_mix(operations: int, seed: int) -> list[str]:
    """The operations' kinds in the order they are pushed: exact shares of the
    total, shuffled by the seed."""
    counts = {kind: operations * share // 100 for kind, share in MIX[1:]}
    counts["payment"] = operations - sum(counts.values())
    kinds = [kind for kind, _ in MIX for _ in range(counts[kind])]
    random.Random(seed).shuffle(kinds)
    return kinds


def refund_event(op: Operation) -> dict:
    """A partial refund made in Stripe's dashboard: payments matches it by PaymentIntent."""
    return stripe_event("refund.created", {
        "id": f"re_{secrets.token_hex(12)}", "object": "refund", "amount": op.refund_minor, "currency": "eur",
        "payment_intent": op.intent["stripe_payment_intent_id"], "status": "succeeded",
        "reason": "requested_by_customer", "metadata": {}})


def dispute_events(op: Operation) -> list[dict]:
    """A chargeback of the whole price, in the order Stripe sends its events."""
    price = op.intent["amounts"]["price_minor"]
    withdrawal = {
        "id": f"txn_{secrets.token_hex(12)}", "object": "balance_transaction", "amount": -price,
        "fee": DISPUTE_FEE_MINOR, "net": -price - DISPUTE_FEE_MINOR, "currency": "eur", "type": "adjustment",
        "fee_details": [{"amount": DISPUTE_FEE_MINOR, "currency": "eur", "type": "stripe_fee",
                         "description": "Dispute fee", "application": None}]}
    dispute_id = f"du_{secrets.token_hex(12)}"

    def event(type_: str, status: str, transactions: list[dict]) -> dict:
        return stripe_event(type_, {
            "id": dispute_id, "object": "dispute", "amount": price, "currency": "eur", "status": status,
            "payment_intent": op.intent["stripe_payment_intent_id"], "reason": "fraudulent",
            "balance_transactions": transactions})

    return [event("charge.dispute.created", "needs_response", []),
            event("charge.dispute.funds_withdrawn", "needs_response", [withdrawal]),
            event("charge.dispute.closed", op.outcome, [withdrawal])]


def webhooks_of(op: Operation) -> list[dict]:
    if op.kind == "payment":
        return [succeeded_event(op.intent)]
    return [refund_event(op)] if op.kind == "refund" else dispute_events(op)


async def push_mix(client: aiohttp.ClientSession, secret: str, ops: list[Operation], concurrency: int,
                   rate: float) -> dict[tuple[str, str], float]:
    """Push each operation's webhooks (a dispute's one after another, as Stripe
    would); returns, per (creator, ledger entry kind), when the gateway accepted it."""
    slots = asyncio.Semaphore(concurrency)
    pace = Pace(rate)
    accepted: dict[tuple[str, str], float] = {}

    async def one(i: int, op: Operation) -> None:
        await pace.wait_turn(i)
        async with slots:
            for event in webhooks_of(op):
                await post_webhook(client, secret, event)
                accepted[(op.intent["creator_id"], LEDGER_KIND[event["type"]])] = time.time()

    await asyncio.gather(*(one(i, op) for i, op in enumerate(ops)))
    return accepted


async def wait_for_entries(dsn: str, expected: set[tuple[str, str]], timeout: float
                           ) -> dict[tuple[str, str], datetime]:
    """When each expected (creator, kind) ledger entry was committed (those seen before the deadline)."""
    creators = sorted({creator for creator, _ in expected})
    connection = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while True:
            rows = await connection.fetch(
                "SELECT creator_id, kind, created_at FROM journal_entries WHERE creator_id = ANY($1::text[])",
                creators)
            found = {(r["creator_id"], r["kind"]): r["created_at"] for r in rows
                     if (r["creator_id"], r["kind"]) in expected}
            if len(found) == len(expected) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.2)
    finally:
        await connection.close()


def latency_line(label: str, seconds: list[float]) -> str:
    values = sorted(seconds)
    return (f"  {label:32} n={len(values):<5} p50 {percentile(values, 50) * 1000:6.0f} ms  "
            f"p95 {percentile(values, 95) * 1000:6.0f} ms  p99 {percentile(values, 99) * 1000:6.0f} ms  "
            f"max {values[-1] * 1000:6.0f} ms")


async def run_mix(args: argparse.Namespace, gateway_url: str, ledger_dsn: str, env: dict[str, str],
                  scope: Scope = everywhere) -> Measured:
    kinds = plan_mix(args.operations, args.seed)
    rng = random.Random(args.seed)
    n_targets = sum(kind != "payment" for kind in kinds)
    async with http_client(gateway_url, args.concurrency) as client:
        started = time.monotonic()
        intents = await create_payments(client, env["CALLASTAR_JWT_SECRET"], len(kinds), args.concurrency)
        # Refunds and disputes are about payments that succeeded before the timed part.
        fresh, targets = intents[: len(kinds) - n_targets], intents[len(kinds) - n_targets:]
        await push_webhooks(client, env["CALLASTAR_STRIPE_WEBHOOK_SECRET"], targets, args.concurrency)
        settled = await wait_for_ledger(ledger_dsn, [t["creator_id"] for t in targets], args.timeout)
        if len(settled) != len(targets):
            raise SystemExit(f"set-up: only {len(settled)} of {len(targets)} payments reached the ledger")
        ops: list[Operation] = []
        for kind in kinds:
            if kind == "payment":
                ops.append(Operation("payment", fresh.pop()))
                continue
            intent = targets.pop()
            price = intent["amounts"]["price_minor"]
            ops.append(Operation(kind, intent, refund_minor=rng.randint(1, price - 1),
                                 outcome=rng.choice(("won", "lost"))))
        counts = {kind: kinds.count(kind) for kind, _ in MIX}
        webhooks = counts["payment"] + counts["refund"] + 3 * counts["dispute"]
        print(f"mix (seed {args.seed}): {counts['payment']} payments, {counts['refund']} partial refunds, "
              f"{counts['dispute']} disputes = {webhooks} webhooks; set up in {time.monotonic() - started:.1f}s")
        cpu_before = CpuSample.take(scope())
        started = time.monotonic()
        accepted = await push_mix(client, env["CALLASTAR_STRIPE_WEBHOOK_SECRET"], ops, args.concurrency, args.rate)
        push_seconds = time.monotonic() - started
    committed = await wait_for_entries(ledger_dsn, set(accepted), args.timeout)
    all_seconds = time.monotonic() - started
    cpu_spent = CpuSample.take(scope()).since(cpu_before)
    print_rates(args.rate, args.concurrency, len(accepted), len(committed), push_seconds, all_seconds)
    print("latency webhook accepted -> its ledger entry written, per event type:")
    for event_type, kind in LEDGER_KIND.items():
        seconds = [committed[key].timestamp() - accepted[key] for key in committed if key[1] == kind]
        if seconds:
            print(latency_line(event_type, seconds))
    if committed:
        print(report(cpu_spent, len(committed)))
    if len(committed) != len(accepted):
        missing = sorted({kind for _, kind in accepted.keys() - committed.keys()})
        raise SystemExit(f"only {len(committed)} of {len(accepted)} webhooks reached the ledger in "
                         f"{args.timeout}s (missing kinds: {', '.join(missing)})")
    in_order = [committed[key].timestamp() - accepted[key] for key in sorted(committed, key=accepted.__getitem__)]
    return Measured(args.rate * webhooks / len(ops), len(accepted), len(committed), push_seconds, all_seconds,
                    in_order, cpu_spent)


# ---- the no-framework baseline (--baseline) -------------------------------------------

def stop_services(runner: LocalStack) -> None:
    """The suite's services, before the baseline runs: their idle polling of
    Kafka and PostgreSQL is not the baseline's cost."""
    services = [proc for proc in runner.pidfile.load() if proc.name in PROCESSES]
    terminate(services)
    for proc in services:
        runner.pidfile.remove(proc.name)


async def run_baseline(args: argparse.Namespace, handle: StackHandle, logs_dir: Path, pidfile: PidFile,
                       scope: Scope) -> Measured:
    """The same payment webhooks through the baseline (tests.load.baseline), on
    the same Kafka and PostgreSQL, after the suite's run."""
    rate = args.rate if args.baseline_rate is None else args.baseline_rate
    async with launcher.running(handle, logs_dir, pidfile) as baseline:
        intents = await launcher.seed_payments(baseline.dsns["payments"], args.payments)
        print(f"\nbaseline (no framework): {len(intents)} payments seeded")
        async with http_client(baseline.intake_url, args.concurrency) as client:
            measured = await time_payments(client, handle.env["CALLASTAR_STRIPE_WEBHOOK_SECRET"], intents,
                                           baseline.dsns["ledger"], args, rate, scope)
    print_payments(measured, args.concurrency, args.timeout)
    return measured


async def bench_own_stack(args: argparse.Namespace, runner: LocalStack, handle: StackHandle) -> None:
    # Only this stack's processes: the machine may run others.
    def scope() -> set[int]:
        return stack_pids(proc.pid for proc in runner.pidfile.load())

    suite = await (run_mix if args.mix else run)(args, handle.gateway_url, handle.asyncpg_dsn("ledger"), handle.env,
                                                 scope)
    print(memory.report(memory.services_rss(runner.pidfile.load())))
    if args.baseline:
        stop_services(runner)
        baseline = await run_baseline(args, handle, runner.cfg.logs_dir, runner.pidfile, scope)
        print()
        print("\n".join(floors.comparison(suite, baseline, mix=args.mix)))


def main() -> None:
    parser = argparse.ArgumentParser(prog="./callastar bench")
    parser.add_argument("--payments", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--rate", type=float, default=0,
                        help="offer webhooks at this many per second (open loop); 0: as fast as answered")
    parser.add_argument("--mix", action="store_true",
                        help="payments 85 %%, partial refunds 10 %%, disputes 5 %% instead of payments only")
    parser.add_argument("--operations", type=int, default=1000, help="with --mix: how many operations")
    parser.add_argument("--seed", type=int, default=4, help="with --mix: the seed of the mix")
    parser.add_argument("--baseline", action="store_true",
                        help="then run --payments payment webhooks through the no-framework baseline and compare")
    parser.add_argument("--baseline-rate", type=float,
                        help="with --baseline: the rate offered to the baseline (default: --rate)")
    parser.add_argument("--gateway-url", help="a running gateway (default: start a stack)")
    parser.add_argument("--ledger-dsn", help="the running ledger's database (postgresql://...)")
    args = parser.parse_args()
    if args.mix and args.operations < 20:
        parser.error("--operations: at least 20, so that every kind of operation occurs")
    if args.gateway_url:
        if not args.ledger_dsn:
            parser.error("--ledger-dsn goes with --gateway-url")
        if args.baseline:
            parser.error("--baseline runs on the stack the bench starts, not with --gateway-url")
        asyncio.run((run_mix if args.mix else run)(args, args.gateway_url, args.ledger_dsn, dict(os.environ)))
        return
    runner = LocalStack(StackConfig.for_profile("test"))
    try:
        # From empty databases and topics, and leaving none: a stack the tests
        # left holds parked events and payouts the services would work through
        # during the measurement, and the bench's synthetic disputes would fail
        # the tests' ledger check.
        runner.preflight(reset=True, services=False)
        wipe(runner)
        runner.start_infra(reset=True)
        handle = runner.start_services()
        asyncio.run(bench_own_stack(args, runner, handle))
    finally:
        runner.stop()
        wipe(runner)


def wipe(runner: LocalStack) -> None:
    """The test stack's databases and topics (its logs stay, to read after a run)."""
    runner.pg.wipe()
    runner.kafka.wipe()


if __name__ == "__main__":
    main()
