"""Admin views of refunds and disputes, from the payments service. Filters, sort
and cursor go through as the caller sent them (checked first: gateway.schemas.queries);
`?format=csv` or `Accept: text/csv` answers a CSV, streamed through. And every
consumer service's dead letters: listed and replayed (common.dead_letters)."""


from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody

from common.http import Identity
from gateway.auth import requires
from gateway.clients import ServiceClient, Services
from gateway.schemas import queries
from gateway.schemas.admin import (
    DeadLetter,
    DisputePage,
    RefundPage,
    ReplayOutcome,
    ReplayRequest,
    StatusTotals,
    StuckRefunds,
)
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


def _consumer(services: Services, service: str) -> ServiceClient:
    found = {client.name: client for client in services.all()}.get(service)
    if found is None:
        raise NotFoundException(f"no service {service!r}; one of {', '.join(c.name for c in services.all())}")
    return found


@get("/dead-letters/{service:str}", summary="A service's dead letters, and whether each was replayed",
     responses=api_problems(403, 404))
async def list_dead_letters(
    service: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[list[DeadLetter]]:
    return await _consumer(services, service).forward("GET", "/dead-letters", who)


@post("/dead-letters/{service:str}/replay", status_code=200, responses=api_problems(403, 404, body=True),
      summary='Replay dead letters through the service\'s handler and inbox: {"ids": [...]} or {"all": true}')
async def replay_dead_letters(
    service: FromPath[str], data: JSONBody[ReplayRequest], who: NamedDependency[Identity],
    services: NamedDependency[Services],
) -> Response[list[ReplayOutcome]]:
    return await _consumer(services, service).forward(
        "POST", "/dead-letters/replay", who, json=data.model_dump(exclude_unset=True))


router = Router(
    "/admin",
    route_handlers=[list_refunds, refund_stats, list_stuck_refunds, list_disputes, dispute_stats,
                    list_dead_letters, replay_dead_letters],
    guards=[requires("admin")],
    tags=["admin"],
)
route_handlers = [router]
