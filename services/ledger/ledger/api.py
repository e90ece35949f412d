"""The ledger's internal HTTP API, called by the gateway only."""

from dataclasses import asdict
from typing import Annotated, Literal

from litestar import get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, Parameter

from common.http import Identity, require_role
from common.service import DatabaseDep, IdentityDep, RuntimeDep
from ledger import domain, models

DebtStatus = Literal["OPEN", "PARTIALLY_DEDUCTED", "SETTLED", "REVERSED"]


def _creator_scope(who: Identity, creator_id: str | None) -> str | None:
    """Admins see anyone (or everyone); a creator only themselves."""
    if who.role == "admin":
        return creator_id
    require_role(who, "creator")
    if creator_id is not None and creator_id != who.user_id:
        raise NotFoundException("no such creator")
    return who.user_id


@get("/balances/{creator_id:str}")
async def get_balances(creator_id: FromPath[str], db: DatabaseDep, runtime: RuntimeDep, who: IdentityDep) -> dict:
    """Per currency: available, disputed, reserved and debt, in minor units, and
    whether payouts are blocked (debt above CALLASTAR_DEBT_BLOCK_THRESHOLD_MINOR)."""
    _creator_scope(who, creator_id)
    threshold = runtime.settings.debt_block_threshold_minor
    async with db.transaction() as session:
        balances = await models.creator_balances(session, creator_id)
    return {
        "creator_id": creator_id,
        "balances": [
            {**asdict(b), "payouts_blocked": domain.payouts_blocked(b.debt_minor, threshold)} for b in balances
        ],
    }


@get("/debts")
async def get_debts(
    db: DatabaseDep,
    who: IdentityDep,
    creator_id: FromQuery[str | None] = None,
    status: FromQuery[DebtStatus | None] = None,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
) -> dict:
    """Debts, newest first: a creator's own; an admin's any, `?creator_id=` to narrow."""
    scope = _creator_scope(who, creator_id)
    async with db.transaction() as session:
        debts = await models.list_debts(session, creator_id=scope, status=status, limit=limit)
    return {
        "debts": [
            {
                "debt_id": str(d.id),
                "creator_id": d.creator_id,
                "currency": d.currency,
                "cause_type": d.cause_type,
                "cause_id": d.cause_id,
                "amount_minor": d.amount_minor,
                "remaining_minor": d.remaining_minor,
                "deducted_minor": d.amounts().deducted_minor,
                "reversed_minor": d.reversed_minor,
                "status": d.status,
                "created_at": d.created_at.isoformat(),
                "updated_at": d.updated_at.isoformat(),
            }
            for d in debts
        ]
    }


route_handlers = [get_balances, get_debts]
