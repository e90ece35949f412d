"""Admin views of refunds and disputes, from the payments service. Filters, sort
and cursor go through as the caller sent them; `?format=csv` or `Accept: text/csv`
answers a CSV, streamed through."""

from litestar import Request, Response, Router, get
from litestar.di import NamedDependency

from common.http import Identity
from gateway.auth import requires
from gateway.clients import Services


async def _forward(request: Request, path: str, who: Identity, services: Services) -> Response:
    return await services.payments.forward(
        "GET", path, who, params=request.url.query, accept=request.headers.get("Accept")
    )


@get("/refunds", summary="Refunds: filter, sort, paginate, or export as CSV")
async def list_refunds(
    request: Request, who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await _forward(request, "/admin/refunds", who, services)


@get("/refunds/stats", summary="Refunds: count and sum per status")
async def refund_stats(
    request: Request, who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await _forward(request, "/admin/refunds/stats", who, services)


@get("/refunds/stuck", summary="Refunds PENDING without a Stripe id past an API call's time, oldest first, "
                               "with when the reconciler gives up on each")
async def list_stuck_refunds(
    request: Request, who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await _forward(request, "/admin/refunds/stuck", who, services)


@get("/disputes", summary="Disputes: filter, sort, paginate, or export as CSV")
async def list_disputes(
    request: Request, who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await _forward(request, "/admin/disputes", who, services)


@get("/disputes/stats", summary="Disputes: count and sum per status")
async def dispute_stats(
    request: Request, who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await _forward(request, "/admin/disputes/stats", who, services)


router = Router(
    "/admin",
    route_handlers=[list_refunds, refund_stats, list_stuck_refunds, list_disputes, dispute_stats],
    guards=[requires("admin")],
    tags=["admin"],
)
route_handlers = [router]
