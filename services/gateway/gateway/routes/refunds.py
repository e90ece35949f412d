"""Refunds of one payment (admins only), forwarded to the payments service, which
validates the amount, the currency and what is left refundable."""

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from common.http import Identity
from gateway.auth import requires
from gateway.clients import Services, path_segment
from gateway.schemas.payments import Refund, RefundBody
from gateway.schemas.problems import api_problems


@post("/payments/{payment_id:str}/refunds", guards=[requires("admin")], status_code=202,
      summary="Refund a payment, fully or in part (answers 202: Stripe settles it later)",
      responses=api_problems(403, 404, 409, 422, 502, body=True, meanings={
          409: "The payment cannot be refunded (not succeeded, or nothing left)",
          502: "Stripe refused or failed the call; `refund` is the refund as recorded"}))
async def create_refund(
    payment_id: FromPath[str],
    data: JSONBody[RefundBody],
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
) -> Response[Refund]:
    """Body: `amount_minor` (default: all that is left), `currency`, `reason`."""
    return await services.payments.forward(
        "POST", f"/payments/{path_segment(payment_id)}/refunds", who, json=data.model_dump(exclude_unset=True)
    )


@get("/payments/{payment_id:str}/refunds", guards=[requires("admin")], summary="A payment's refunds",
     responses=api_problems(403, 404))
async def list_refunds(
    payment_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[list[Refund]]:
    return await services.payments.forward("GET", f"/payments/{path_segment(payment_id)}/refunds", who)


# Money leaves the platform here: the app puts these behind a tighter rate limit.
sensitive_route_handlers = [create_refund]
route_handlers = [list_refunds]
