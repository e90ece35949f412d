"""Admin views of refunds and disputes, from the payments service. Filters, sort
and cursor go through as the caller sent them (checked first: gateway.schemas.queries);
`?format=csv` or `Accept: text/csv` answers a CSV, streamed through."""

from litestar import Request, Response, Router, get
from litestar.di import NamedDependency

from common.http import Identity
from gateway.auth import requires
from gateway.clients import Services
from gateway.schemas import queries
from gateway.schemas.admin import DisputePage, RefundPage, StatusTotals, StuckRefunds
from gateway.schemas.csv_export import CsvOrJson
from gateway.schemas.problems import api_problems

_ERRORS = api_problems(403)


async def _forward(request: Request, path: str, checked_query: str, who: Identity, services: Services) -> Response:
    return await services.payments.forward(
        "GET", path, who, params=checked_query, accept=request.headers.get("Accept")
    )


@get("/refunds", summary="Refunds: filter, sort, paginate, or export as CSV", responses=_ERRORS,
     dependencies=queries.forwarded(queries.money_page), operation_class=CsvOrJson)
async def list_refunds(
    request: Request, checked_query: NamedDependency[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[RefundPage]:
    return await _forward(request, "/admin/refunds", checked_query, who, services)


@get("/refunds/stats", summary="Refunds: count and sum per status", responses=_ERRORS,
     dependencies=queries.forwarded(queries.money_filters))
async def refund_stats(
    request: Request, checked_query: NamedDependency[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[StatusTotals]:
    return await _forward(request, "/admin/refunds/stats", checked_query, who, services)


@get("/refunds/stuck", summary="Refunds PENDING without a Stripe id past an API call's time, oldest first, "
                               "with when the reconciler gives up on each", responses=_ERRORS,
     dependencies=queries.forwarded(queries.stuck_refunds))
async def list_stuck_refunds(
    request: Request, checked_query: NamedDependency[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[StuckRefunds]:
    return await _forward(request, "/admin/refunds/stuck", checked_query, who, services)


@get("/disputes", summary="Disputes: filter, sort, paginate, or export as CSV", responses=_ERRORS,
     dependencies=queries.forwarded(queries.money_page), operation_class=CsvOrJson)
async def list_disputes(
    request: Request, checked_query: NamedDependency[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[DisputePage]:
    return await _forward(request, "/admin/disputes", checked_query, who, services)


@get("/disputes/stats", summary="Disputes: count and sum per status", responses=_ERRORS,
     dependencies=queries.forwarded(queries.money_filters))
async def dispute_stats(
    request: Request, checked_query: NamedDependency[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[StatusTotals]:
    return await _forward(request, "/admin/disputes/stats", checked_query, who, services)


router = Router(
    "/admin",
    route_handlers=[list_refunds, refund_stats, list_stuck_refunds, list_disputes, dispute_stats],
    guards=[requires("admin")],
    tags=["admin"],
)
route_handlers = [router]
