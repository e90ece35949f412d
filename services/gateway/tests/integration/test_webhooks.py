"""Stripe webhooks end to end through real Kafka (the `infra` fixture)."""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from common.kafka import KafkaAccess
from contracts.events.stripe import StripeEventReceived
from gateway.settings import Settings
from tests.support.stripe_events import sign_stripe_payload, stripe_event

from .conftest import closed_port, serving

TOPIC = StripeEventReceived.TOPIC


class TopicTail:
    """Reads `TOPIC` from the end offsets noted when it was opened."""

    def __init__(self, consumer: AIOKafkaConsumer, start: dict[TopicPartition, int]) -> None:
        self._consumer = consumer
        self._start = start

    async def until(self, found, *, timeout: float = 20.0) -> list:
        """Messages since the start, up to the first one for which `found` holds."""
        for tp, offset in self._start.items():
            self._consumer.seek(tp, offset)
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await self._consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    seen.append(record)
                    if found(record):
                        return seen
        raise AssertionError(f"no matching message on {TOPIC} within {timeout}s ({len(seen)} seen)")


def on_kafka(kafka: KafkaAccess) -> dict[str, str]:
    """Gateway settings that reach the test stack's broker as `kafka`'s principal."""
    return {"kafka_bootstrap_servers": kafka.bootstrap_servers, "kafka_username": kafka.username,
            "kafka_password": kafka.password}


@contextlib.asynccontextmanager
async def tail(kafka: KafkaAccess) -> AsyncIterator[TopicTail]:
    # No group: the consumer is given every partition of the topic, no offsets committed.
    consumer = AIOKafkaConsumer(TOPIC, **kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + 10
        while not (partitions := consumer.assignment()):
            assert time.monotonic() < deadline, f"no partitions of {TOPIC}"
            await asyncio.sleep(0.05)
        yield TopicTail(consumer, await consumer.end_offsets(list(partitions)))
    finally:
        await consumer.stop()


def stripe_id_of(record) -> str:
    return json.loads(record.value)["data"]["stripe_event_id"]


async def wait_ready(client: httpx.AsyncClient, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await client.get("/ready")).status_code == 200:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"gateway not ready: {(await client.get('/ready')).json()}")


async def post_event(client: httpx.AsyncClient, path: str, event: dict, secret: str) -> httpx.Response:
    raw = json.dumps(event).encode()
    return await client.post(path, content=raw, headers={
        "Stripe-Signature": sign_stripe_payload(raw, secret), "Content-Type": "application/json"})


async def test_signed_event_is_on_the_topic_before_the_200(infra, gateway_settings: Settings):
    settings = gateway_settings.model_copy(update=on_kafka(infra.kafka))
    event = stripe_event("payment_intent.succeeded",
                         {"id": f"pi_{time.time_ns()}", "object": "payment_intent"})
    async with tail(infra.kafka) as topic, serving(settings) as gateway:
        await wait_ready(gateway)
        response = await post_event(gateway, "/webhooks/stripe", event, settings.stripe_webhook_secret)
        assert response.status_code == 200, response.text
        assert response.json() == {"received": True}
        record = (await topic.until(lambda r: stripe_id_of(r) == event["id"]))[-1]
    assert record.key == event["data"]["object"]["id"].encode()
    published = StripeEventReceived.model_validate_json(record.value)
    assert published.event_id == StripeEventReceived.event_id_for(event["id"])
    assert published.data.connect is False
    assert published.data.payload == event
    assert published.correlation_id == response.headers["X-Correlation-Id"]


async def test_connect_event_keeps_its_account(infra, gateway_settings: Settings):
    settings = gateway_settings.model_copy(update=on_kafka(infra.kafka))
    event = stripe_event("payout.paid", {"id": f"po_{time.time_ns()}", "object": "payout"},
                         account="acct_1TestCreator")
    async with tail(infra.kafka) as topic, serving(settings) as gateway:
        await wait_ready(gateway)
        # The platform secret does not open the Connect endpoint.
        wrong = await post_event(gateway, "/webhooks/stripe/connect", event, settings.stripe_webhook_secret)
        assert wrong.status_code == 400
        response = await post_event(gateway, "/webhooks/stripe/connect", event,
                                    settings.stripe_connect_webhook_secret)
        assert response.status_code == 200, response.text
        records = await topic.until(lambda r: stripe_id_of(r) == event["id"])
    ours = [r for r in records if stripe_id_of(r) == event["id"]]
    assert len(ours) == 1
    published = StripeEventReceived.model_validate_json(ours[0].value)
    assert (published.data.connect, published.data.account) == (True, "acct_1TestCreator")


async def test_badly_signed_event_is_400_and_not_published(infra, gateway_settings: Settings):
    settings = gateway_settings.model_copy(update=on_kafka(infra.kafka))
    forged = stripe_event("charge.refunded", {"id": f"ch_{time.time_ns()}", "object": "charge"})
    marker = stripe_event("charge.succeeded", {"id": f"ch_{time.time_ns()}", "object": "charge"})
    async with tail(infra.kafka) as topic, serving(settings) as gateway:
        await wait_ready(gateway)
        response = await post_event(gateway, "/webhooks/stripe", forged, "whsec_attacker")
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")
        unsigned = await gateway.post("/webhooks/stripe", content=json.dumps(forged).encode())
        assert unsigned.status_code == 400
        # A genuine event sent after them: once it is on the topic, anything the
        # forged ones had produced would be there too.
        assert (await post_event(gateway, "/webhooks/stripe", marker,
                                 settings.stripe_webhook_secret)).status_code == 200
        records = await topic.until(lambda r: stripe_id_of(r) == marker["id"])
    assert forged["id"] not in {stripe_id_of(r) for r in records}


async def test_signed_body_that_is_not_a_stripe_event_is_400(infra, gateway_settings: Settings):
    settings = gateway_settings.model_copy(update=on_kafka(infra.kafka))
    async with serving(settings) as gateway:
        for raw in (b"{not json", b'{"id": "evt_1", "type": "x"}'):
            response = await gateway.post("/webhooks/stripe", content=raw, headers={
                "Stripe-Signature": sign_stripe_payload(raw, settings.stripe_webhook_secret)})
            assert response.status_code == 400, raw


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


async def test_kafka_down_is_503_and_the_gateway_connects_once_kafka_is_back(
    infra, gateway_settings: Settings
):
    # The gateway bootstraps through a port where nothing listens yet; later a
    # forwarder to the real broker opens there (the broker then advertises itself).
    port = closed_port()
    settings = gateway_settings.model_copy(
        update={**on_kafka(infra.kafka), "kafka_bootstrap_servers": f"127.0.0.1:{port}"})
    kafka_host, kafka_port = infra.kafka_bootstrap.split(",")[0].rsplit(":", 1)
    event = stripe_event("payment_intent.succeeded", {"id": f"pi_{time.time_ns()}"})

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(kafka_host, int(kafka_port))
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    async with serving(settings) as gateway:
        down = await post_event(gateway, "/webhooks/stripe", event, settings.stripe_webhook_secret)
        assert down.status_code == 503
        assert down.headers["content-type"].startswith("application/problem+json")
        assert (await gateway.get("/ready")).status_code == 503
        forwarder = await asyncio.start_server(forward, "127.0.0.1", port)
        try:
            await wait_ready(gateway)
            retried = await post_event(gateway, "/webhooks/stripe", event, settings.stripe_webhook_secret)
        finally:
            forwarder.close()
    assert retried.status_code == 200
