"""The baseline's HTTP intake: Stripe's signature check on the raw body (the
gateway's scheme, by Stripe's SDK), a minimal shape check, produce with acks=all,
and only then 200.

    CALLASTAR_BASELINE_INTAKE_PORT=<port> python -m tests.load.baseline.intake
"""

import asyncio
import json
import os

import stripe
from aiohttp import web
from aiokafka import AIOKafkaProducer

from tests.load.baseline import topics

TOLERANCE_S = 300  # the gateway's default
PORT = "CALLASTAR_BASELINE_INTAKE_PORT"


def verified_event(raw: bytes, header: str | None, secret: str) -> dict:
    """The event if Stripe signed `raw` with `secret` and it has an id, a type and an object."""
    if not header:
        raise web.HTTPBadRequest(text="missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(raw, header, secret, TOLERANCE_S)
        event = json.loads(raw)
    except (stripe.SignatureVerificationError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise web.HTTPBadRequest(text="bad Stripe-Signature or body") from exc
    if not (isinstance(event, dict) and isinstance(event.get("id"), str) and isinstance(event.get("type"), str)
            and isinstance(event.get("data"), dict) and isinstance(event["data"].get("object"), dict)):
        raise web.HTTPBadRequest(text="body is not a Stripe event (id, type, data.object)")
    return event


def make_app(producer: AIOKafkaProducer, topic: str, secret: str) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        raw = await request.read()
        event = verified_event(raw, request.headers.get("Stripe-Signature"), secret)
        key = event["data"]["object"].get("id")
        await producer.send_and_wait(topic, raw, key=key.encode() if isinstance(key, str) else None)
        return web.json_response({"received": True})

    async def ready(_: web.Request) -> web.Response:
        return web.json_response({"ready": True})

    app = web.Application()
    app.add_routes([web.post("/webhooks/stripe", receive), web.get("/ready", ready)])
    return app


async def serve() -> None:
    env = dict(os.environ)
    # The gateway's producer: idempotent (hence acks=all), 20 ms linger.
    producer = AIOKafkaProducer(**topics.client_options(env), client_id="baseline-intake", acks="all",
                                enable_idempotence=True, linger_ms=20)
    await producer.start()
    runner = web.AppRunner(make_app(producer, topics.Topics(env[topics.PREFIX]).stripe_events,
                                    env["CALLASTAR_STRIPE_WEBHOOK_SECRET"]), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(env[PORT])).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await producer.stop()


if __name__ == "__main__":
    asyncio.run(serve())
