"""Stripe webhooks: verify the signature on the raw body, publish the event to
Kafka (acks=all), and only then answer 2xx, so Stripe retries whatever we did
not durably hand over. Event types are not filtered here: consumers decide."""

import json
from typing import Any

import stripe
from litestar import Request, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, ServiceUnavailableException
from pydantic import ValidationError

from common import logs
from contracts.events.stripe import StripeEventReceived, StripeEventReceivedData
from gateway.publisher import KafkaUnavailable, Publisher
from gateway.schemas.problems import problems
from gateway.schemas.webhooks import StripeWebhook, WebhookReceived
from gateway.settings import Settings

SIGNATURE_HEADER = "Stripe-Signature"
# Stripe's events nest a few levels (event, data, object, a list, its items, ...);
# far deeper is no Stripe event, and every consumer would have to walk it.
MAX_DEPTH = 32


class InvalidWebhook(Exception):
    """Not a genuine, well-formed Stripe event; the message is safe to show."""


def verify_signature(raw: bytes, header: str | None, secret: str, tolerance_s: int) -> None:
    """Stripe's scheme (HMAC-SHA256 of f"{t}.{body}", any of several v1, t not older
    than the tolerance), checked by Stripe's own SDK."""
    if not header:
        raise InvalidWebhook("missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(raw, header, secret, tolerance_s)
    except stripe.SignatureVerificationError as exc:  # its text is Stripe's, never shown
        raise InvalidWebhook("bad Stripe-Signature") from exc
    except UnicodeDecodeError as exc:  # Stripe signs UTF-8 text; anything else is not from Stripe
        raise InvalidWebhook("body is not UTF-8") from exc


def parse_event(raw: bytes) -> dict[str, Any]:
    try:
        event = json.loads(raw)
    except ValueError as exc:
        raise InvalidWebhook("body is not JSON") from exc
    except RecursionError as exc:
        raise InvalidWebhook(f"body nests deeper than {MAX_DEPTH} levels") from exc
    if _depth(event) > MAX_DEPTH:
        raise InvalidWebhook(f"body nests deeper than {MAX_DEPTH} levels")
    data = event.get("data") if isinstance(event, dict) else None
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
        or not isinstance(data, dict)
        or not isinstance(data.get("object"), dict)
    ):
        raise InvalidWebhook("body is not a Stripe event (id, type, data.object)")
    return event


def _depth(value: Any) -> int:
    """How deep containers nest in `value` (iterative: no recursion to exhaust)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                pending.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def stripe_event_received(
    event: dict[str, Any], *, connect: bool, correlation_id: str | None
) -> StripeEventReceived:
    object_id = event["data"]["object"].get("id")
    try:
        data = StripeEventReceivedData(
            stripe_event_id=event["id"],
            type=event["type"],
            account=event.get("account"),
            connect=connect,
            livemode=event.get("livemode"),
            api_version=event.get("api_version"),
            created=event.get("created"),
            object_id=object_id if isinstance(object_id, str) else None,
            payload=event,
        )
    except ValidationError as exc:
        raise InvalidWebhook(f"malformed Stripe event: {exc.errors()[0]['loc']}") from exc
    return StripeEventReceived.new(
        data,
        producer="gateway",
        creator_id=None,  # unknown at the edge; payments/payouts map objects to creators
        correlation_id=correlation_id,
        event_id=StripeEventReceived.event_id_for(event["id"]),
    )


async def receive(request: Request, publisher: Publisher, secret: str, tolerance_s: int,
                  *, connect: bool) -> WebhookReceived:
    raw = await request.body()
    try:
        verify_signature(raw, request.headers.get(SIGNATURE_HEADER), secret, tolerance_s)
        event = stripe_event_received(
            parse_event(raw), connect=connect, correlation_id=logs.correlation_id.get()
        )
    except InvalidWebhook as exc:
        raise ClientException(str(exc)) from exc
    try:
        await publisher.publish(event)
    except KafkaUnavailable as exc:
        raise ServiceUnavailableException(
            "event not stored, retry later", headers={"Retry-After": "10"}
        ) from exc
    return WebhookReceived(received=True)


# Stripe reads only the status: 2xx the event is ours, anything else it retries.
_ERRORS = problems(400, 413, 429, 503, meanings={400: "Bad signature, or not a Stripe event",
                                                 503: "Kafka cannot take the event now: Stripe retries"})


@post("/webhooks/stripe", status_code=200, summary="Stripe platform events", responses=_ERRORS,
      operation_class=StripeWebhook)
async def stripe_webhook(
    request: Request, publisher: NamedDependency[Publisher], settings: NamedDependency[Settings]
) -> WebhookReceived:
    return await receive(request, publisher, settings.stripe_webhook_secret,
                         settings.webhook_tolerance_s, connect=False)


@post("/webhooks/stripe/connect", status_code=200, summary="Stripe Connect events", responses=_ERRORS,
      operation_class=StripeWebhook)
async def stripe_connect_webhook(
    request: Request, publisher: NamedDependency[Publisher], settings: NamedDependency[Settings]
) -> WebhookReceived:
    return await receive(request, publisher, settings.stripe_connect_webhook_secret,
                         settings.webhook_tolerance_s, connect=True)


route_handlers = [stripe_webhook, stripe_connect_webhook]
