"""Payments, forwarded to the payments service, which validates and decides."""

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from pydantic import BaseModel, ConfigDict, Field

from common.http import IDEMPOTENCY_HEADER, SAFE_ID_PATTERN, Identity, IdempotencyKey
from gateway.auth import requires
from gateway.clients import Services, path_segment


class IntentBody(BaseModel):
    """What a fan may say: which offer. Its price, currency and creator are the server's."""

    model_config = ConfigDict(extra="forbid")

    # Checked here, at the edge: the id is copied into Stripe metadata, logs and exports.
    offer_id: str = Field(pattern=SAFE_ID_PATTERN)


@post("/payments/intents", guards=[requires("fan")], summary="Start paying for an offer")
async def create_payment_intent(
    data: JSONBody[IntentBody],
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Answers the client secret and the amounts breakdown. The same
    Idempotency-Key from the same fan gives the same payment and PaymentIntent
    (the payments service keeps keys per fan)."""
    headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key is not None else None
    return await services.payments.forward("POST", "/payments/intents", who, json=data.model_dump(),
                                           headers=headers)


@get("/payments/{payment_id:str}", summary="One payment (the payments service checks ownership)")
async def get_payment(
    payment_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await services.payments.forward("GET", f"/payments/{path_segment(payment_id)}", who)


route_handlers = [create_payment_intent, get_payment]
