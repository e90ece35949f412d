"""Payouts' internal HTTP API, called by the gateway only."""

from litestar import get
from litestar.exceptions import NotFoundException

from common.db import Database
from common.http import Identity, require_role
from payouts import models


@get("/balances/{creator_id:str}")
async def get_balances(creator_id: str, db: Database, who: Identity) -> dict:
    """The creator's balances as payouts last heard them from the ledger (minor units)."""
    if who.role != "admin":
        require_role(who, "creator")
        if who.user_id != creator_id:
            raise NotFoundException("no such creator")
    async with db.transaction() as session:
        balances = await models.creator_balances(session, creator_id)
    return {
        "creator_id": creator_id,
        "balances": [
            {
                "currency": b.currency,
                "available_minor": b.available_minor,
                "disputed_minor": b.disputed_minor,
                "reserved_minor": b.reserved_minor,
                "debt_minor": b.debt_minor,
                "as_of": b.as_of.isoformat(),
            }
            for b in balances
        ],
    }


route_handlers = [get_balances]
