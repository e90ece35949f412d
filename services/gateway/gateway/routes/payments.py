"""Payments, forwarded to the payments service, which validates and decides."""

from typing import Any

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from common.http import Identity
from gateway.auth import requires
from gateway.clients import Services, path_segment


@post("/payments/intents", guards=[requires("fan")], summary="Start paying for an offer")
async def create_payment_intent(
    data: JSONBody[dict[str, Any]], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    """Answers the client secret and the amounts breakdown."""
    return await services.payments.forward("POST", "/payments/intents", who, json=data)


@get("/payments/{payment_id:str}", summary="One payment (the payments service checks ownership)")
async def get_payment(
    payment_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await services.payments.forward("GET", f"/payments/{path_segment(payment_id)}", who)


route_handlers = [create_payment_intent, get_payment]
