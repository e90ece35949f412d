"""Refunds of one payment (admins only), forwarded to the payments service, which
validates the amount, the currency and what is left refundable."""

from typing import Any

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from common.http import Identity
from gateway.auth import requires
from gateway.clients import Services, path_segment


@post("/payments/{payment_id:str}/refunds", guards=[requires("admin")], status_code=202,
      summary="Refund a payment, fully or in part (answers 202: Stripe settles it later)")
async def create_refund(
    payment_id: FromPath[str],
    data: JSONBody[dict[str, Any]],
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
) -> Response:
    """Body: `amount_minor` (default: all that is left), `currency`, `reason`."""
    return await services.payments.forward(
        "POST", f"/payments/{path_segment(payment_id)}/refunds", who, json=data
    )


@get("/payments/{payment_id:str}/refunds", guards=[requires("admin")], summary="A payment's refunds")
async def list_refunds(
    payment_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await services.payments.forward("GET", f"/payments/{path_segment(payment_id)}/refunds", who)


# Money leaves the platform here: the app puts these behind a tighter rate limit.
sensitive_route_handlers = [create_refund]
route_handlers = [list_refunds]
