"""Admin views of refunds and disputes, from the payments service. Filters, sort
and cursor go through as the caller sent them; `?format=csv` or `Accept: text/csv`
answers a CSV, streamed through. And every consumer service's dead letters:
listed and replayed (common.dead_letters)."""

from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody

from common.http import Identity
from gateway.auth import requires
from gateway.clients import ServiceClient, Services


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


def _consumer(services: Services, service: str) -> ServiceClient:
    found = {client.name: client for client in services.all()}.get(service)
    if found is None:
        raise NotFoundException(f"no service {service!r}; one of {', '.join(c.name for c in services.all())}")
    return found


@get("/dead-letters/{service:str}", summary="A service's dead letters, and whether each was replayed")
async def list_dead_letters(
    service: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await _consumer(services, service).forward("GET", "/dead-letters", who)


@post("/dead-letters/{service:str}/replay",
      summary='Replay dead letters through the service\'s handler and inbox: {"ids": [...]} or {"all": true}')
async def replay_dead_letters(
    service: FromPath[str], data: JSONBody[dict[str, Any]], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await _consumer(services, service).forward("POST", "/dead-letters/replay", who, json=data)


router = Router(
    "/admin",
    route_handlers=[list_refunds, refund_stats, list_stuck_refunds, list_disputes, dispute_stats,
                    list_dead_letters, replay_dead_letters],
    guards=[requires("admin")],
    tags=["admin"],
)
route_handlers = [router]
