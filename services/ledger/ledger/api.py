"""The ledger's internal HTTP API, called by the gateway only."""

from dataclasses import asdict

from litestar import get
from litestar.exceptions import NotFoundException

from common.db import Database
from common.http import Identity, require_role
from ledger import models


@get("/balances/{creator_id:str}")
async def get_balances(creator_id: str, db: Database, who: Identity) -> dict:
    """Per currency: available, disputed, reserved and debt, in minor units."""
    if who.role != "admin":
        require_role(who, "creator")
        if who.user_id != creator_id:
            raise NotFoundException("no such creator")
    async with db.transaction() as session:
        balances = await models.creator_balances(session, creator_id)
    return {"creator_id": creator_id, "balances": [asdict(b) for b in balances]}


route_handlers = [get_balances]
