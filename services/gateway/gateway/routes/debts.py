"""What creators owe the platform, from the ledger."""

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException

from common.http import Identity
from gateway.auth import requires
from gateway.clients import Services
from gateway.schemas import queries
from gateway.schemas.balances import DebtList
from gateway.schemas.problems import api_problems
from gateway.schemas.queries import CreatorId


@get("/debts", guards=[requires("creator", "admin")],
     summary="Debts with their cause, amount, remaining and status", responses=api_problems(403),
     dependencies=queries.forwarded(queries.debts))
async def list_debts(
    checked_query: NamedDependency[str],
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
    creator_id: CreatorId = None,
) -> Response[DebtList]:
    """A creator sees their own; an admin sees any, `?creator_id=` to filter."""
    if who.role != "admin" and creator_id not in (None, who.user_id):
        raise PermissionDeniedException("a creator sees only their own debts")
    return await services.ledger.forward("GET", "/debts", who, params=checked_query)


route_handlers = [list_debts]
