"""Stripe's webhook calls: what Stripe sends, and what the gateway answers once
the event is durably on Kafka."""

from dataclasses import dataclass
from typing import Literal

from litestar.openapi.spec import OpenAPIMediaType, Operation, Parameter, RequestBody, Schema
from pydantic import BaseModel, ConfigDict

# A Stripe event as Stripe documents it; only what the gateway needs is listed,
# the rest passes on untouched (https://docs.stripe.com/api/events/object).
STRIPE_EVENT_SCHEMA = Schema(
    title="StripeEvent",
    type="object",
    required=["id", "type", "data"],
    properties={
        "id": Schema(type="string", description="Stripe's evt_ id; retries of one event share it"),
        "type": Schema(type="string", description="e.g. payment_intent.succeeded"),
        "account": Schema(type="string", description="Connect events: the connected account"),
        "livemode": Schema(type="boolean"),
        "api_version": Schema(type="string"),
        "created": Schema(type="integer", description="Unix time"),
        "data": Schema(type="object", required=["object"],
                       properties={"object": Schema(type="object", description="The Stripe object")}),
    },
    description="A Stripe event, signed by Stripe (Stripe-Signature) over the raw body",
    examples=[{"id": "evt_123", "type": "payment_intent.succeeded", "livemode": False, "created": 1764583200,
               "data": {"object": {"id": "pi_123", "object": "payment_intent"}}}],
)


@dataclass
class StripeWebhook(Operation):
    """The handler reads the raw body itself (the signature covers its bytes), so
    Litestar cannot see what it takes: the body and the signature header are declared
    here. Inline, not a component: Litestar publishes only the components its
    schema registry made (litestar._openapi.plugin), and no signature names this one."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(required=True, content={"application/json": OpenAPIMediaType(
            schema=STRIPE_EVENT_SCHEMA)})
        self.parameters = [*(self.parameters or []), Parameter(
            name="Stripe-Signature", param_in="header", required=True, schema=Schema(type="string"),
            description="t=<unix time>,v1=<HMAC-SHA256 of f\"{t}.{body}\"> with the endpoint's secret")]


class WebhookReceived(BaseModel):
    model_config = ConfigDict(example={"received": True})

    received: Literal[True]
