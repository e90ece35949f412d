"""What creators owe the platform, from the ledger."""

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromQuery

from common.http import Identity
from gateway.auth import requires
from gateway.clients import Services


@get("/debts", guards=[requires("creator", "admin")],
     summary="Debts with their cause, amount, remaining and status")
async def list_debts(
    request: Request,
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
    creator_id: FromQuery[str | None] = None,
) -> Response:
    """A creator sees their own; an admin sees any, `?creator_id=` to filter."""
    if who.role != "admin" and creator_id not in (None, who.user_id):
        raise PermissionDeniedException("a creator sees only their own debts")
    return await services.ledger.forward("GET", "/debts", who, params=request.url.query)


route_handlers = [list_debts]
