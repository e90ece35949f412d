"""A creator's balance, from the ledger."""

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException, ValidationException

from common.http import Identity
from gateway.auth import requires
from gateway.clients import Services, path_segment
from gateway.schemas.balances import Balance
from gateway.schemas.problems import api_problems
from gateway.schemas.queries import CreatorId


@get("/balance", guards=[requires("creator", "admin")],
     summary="Available, reserved, disputed and debt per currency, in minor units",
     responses=api_problems(403, 404))
async def get_balance(
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
    creator_id: CreatorId = None,
) -> Response[Balance]:
    """A creator sees their own; an admin names the creator with `?creator_id=`."""
    if who.role == "admin":
        if not creator_id:
            raise ValidationException("creator_id is required for an admin")
    elif creator_id not in (None, who.user_id):
        raise PermissionDeniedException("a creator sees only their own balance")
    target = creator_id or who.user_id
    return await services.ledger.forward("GET", f"/balances/{path_segment(target)}", who)


route_handlers = [get_balance]
