"""Prometheus metrics, defined once for every process (gateway and services).

Each process serves its own `/metrics` (prometheus-client's text format). What
needs a database query (outbox backlog, parked events, a service's own gauges)
is computed when Prometheus scrapes, by the `refreshers` the route awaits
first, never per event. Labels are bounded: a route is its template
(`/payments/{payment_id}`), never the raw path; partitions and topics are few.
The process's service is the scrape job's name (the `job` label), not a label here.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from litestar import Response, get
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest, start_http_server
from sqlalchemy import func, select

from common.db import Database
from common.tables import outbox, parked_events

log = logging.getLogger(__name__)

Refresher = Callable[[], Awaitable[None]]

SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUEST_SECONDS = Histogram(
    "callastar_http_request_duration_seconds",
    "HTTP requests by route template, method and status: time to the response's start",
    ["route", "method", "status"], buckets=SECONDS_BUCKETS,
)

CONSUMER_LAG = Gauge(
    "callastar_consumer_lag", "Records not yet consumed: the partition's high watermark minus the position",
    ["group", "topic", "partition"],
)
CONSUMER_BATCH_SIZE = Histogram(
    "callastar_consumer_batch_size", "Records per batch handed to the service",
    ["group"], buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500),
)
CONSUMER_APPLY_SECONDS = Histogram(
    "callastar_consumer_batch_apply_seconds", "Time to apply one batch, retries and dead-letters included",
    ["group"], buckets=SECONDS_BUCKETS,
)
CONSUMER_RETRIES = Counter(
    "callastar_consumer_retries", "Records applied again alone after a failure", ["group", "topic", "partition"],
)
CONSUMER_DEAD_LETTERS = Counter(
    "callastar_consumer_dead_letters", "Records sent to <topic>.dlq", ["group", "topic", "partition"],
)

OUTBOX_BACKLOG = Gauge("callastar_outbox_backlog", "Outbox rows not yet published to Kafka")
OUTBOX_OLDEST_AGE = Gauge(
    "callastar_outbox_oldest_unsent_age_seconds", "Age of the oldest unpublished outbox row (0: none)",
)
PARKED_EVENTS = Gauge("callastar_parked_events", "Events parked until the event they build on is applied")
PARKED_OLDEST_AGE = Gauge("callastar_parked_oldest_age_seconds", "Age of the oldest parked event (0: none)")

STRIPE_REQUEST_SECONDS = Histogram(
    "callastar_stripe_request_duration_seconds",
    "Calls to the Stripe API (the SDK's network retries included) by operation and outcome",
    ["operation", "outcome"], buckets=SECONDS_BUCKETS,
)


def metrics_route(refreshers: Callable[[], Sequence[Refresher]] = tuple) -> Any:
    """`GET /metrics`; each of `refreshers()` updates its gauges first. One that
    fails (its database away) leaves its gauges as they were: the scrape still answers."""

    @get("/metrics", include_in_schema=False)
    async def metrics() -> Response[bytes]:
        for refresh in refreshers():
            try:
                await refresh()
            except Exception:  # noqa: BLE001 - a scrape must not fail for one gauge
                log.warning("refreshing metrics with %s failed", getattr(refresh, "__name__", refresh), exc_info=True)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return metrics


def messaging_gauges(db: Database) -> Refresher:
    """The outbox and parking gauges, from the service's database."""

    async def refresh() -> None:
        async with db.sessions() as session:
            unsent = (await session.execute(
                select(func.count(), func.extract("epoch", func.now() - func.min(outbox.c.created_at)))
                .where(outbox.c.sent_at.is_(None))
            )).one()
            parked = (await session.execute(
                select(func.count(), func.extract("epoch", func.now() - func.min(parked_events.c.parked_at)))
            )).one()
        OUTBOX_BACKLOG.set(unsent[0])
        OUTBOX_OLDEST_AGE.set(float(unsent[1] or 0))
        PARKED_EVENTS.set(parked[0])
        PARKED_OLDEST_AGE.set(float(parked[1] or 0))

    return refresh


def http_metrics_middleware(app: Any) -> Any:
    """Times every request routed to a handler, labelled with its route template."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                HTTP_REQUEST_SECONDS.labels(
                    scope.get("path_template", "unmatched"), scope["method"], str(message["status"])
                ).observe(time.perf_counter() - started)
            await send(message)

        await app(scope, receive, timed_send)

    return middleware


def consumer_lag(broker: Any) -> Refresher:
    """Each of the broker's consumers' lag on the partitions it holds now (a
    partition taken away by a rebalance drops out; another instance reports it)."""

    async def refresh() -> None:
        CONSUMER_LAG.clear()
        for subscriber in broker.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                continue
            for partition in consumer.assignment():
                highwater = consumer.highwater(partition)
                if highwater is None:  # nothing fetched from it yet
                    continue
                try:
                    position = await asyncio.wait_for(consumer.position(partition), 1.0)
                except TimeoutError:  # its offset is still being looked up: next scrape
                    continue
                CONSUMER_LAG.labels(subscriber.group_id, partition.topic, str(partition.partition)).set(
                    max(highwater - position, 0)
                )

    return refresh


@contextmanager
def served_apart(host: str, port: int) -> Iterator[None]:
    """`/metrics` on a port of its own while the block runs (the gateway's public
    port must not show it). A port already taken (a second gateway on one host)
    costs the metrics, not the gateway: it is logged and the gateway runs on."""
    try:
        server, _ = start_http_server(port, addr=host)
    except OSError as error:
        log.warning("metrics not served on %s:%s: %s", host, port, error)
        yield
        return
    try:
        yield
    finally:
        server.shutdown()
