"""Payments, forwarded to the payments service, which validates and decides."""

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from common.http import IDEMPOTENCY_HEADER, Identity, IdempotencyKey
from gateway.auth import requires
from gateway.clients import Services, path_segment
from gateway.schemas.payments import IntentBody, Payment, PaymentIntentCreated
from gateway.schemas.problems import api_problems


@post("/payments/intents", guards=[requires("fan")], summary="Start paying for an offer",
      responses=api_problems(403, 404, 409, 422, 502, body=True, meanings={
          404: "No such offer", 409: "The offer is disabled, or the Idempotency-Key was used for another offer",
          403: "Not a fan, or the fan's own offer"}))
async def create_payment_intent(
    data: JSONBody[IntentBody],
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
    idempotency_key: IdempotencyKey = None,
) -> Response[PaymentIntentCreated]:
    """Answers the client secret and the amounts breakdown. The same
    Idempotency-Key from the same fan gives the same payment and PaymentIntent
    (the payments service keeps keys per fan)."""
    headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key is not None else None
    return await services.payments.forward("POST", "/payments/intents", who, json=data.model_dump(),
                                           headers=headers)


@get("/payments/{payment_id:str}", summary="One payment (the payments service checks ownership)",
     responses=api_problems(404))
async def get_payment(
    payment_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[Payment]:
    return await services.payments.forward("GET", f"/payments/{path_segment(payment_id)}", who)


route_handlers = [create_payment_intent, get_payment]
