"""Payouts' handler registry, what its handlers need, and the payout lookup
they share."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from common.applying import Applying, EventHandlers, PermanentError
from payouts import models
from payouts.models import Payout
from payouts.stripe_gateway import StripeGateway


@dataclass(frozen=True)
class Needs:
    """What payouts' handlers need beside their events: Stripe, to take a
    transfer back when the bank refuses a payout."""

    stripe: StripeGateway


PayoutsApplying = Applying[Needs]
handlers: EventHandlers[Needs] = EventHandlers()


async def payout_for_update(session: AsyncSession, payout_id: str) -> Payout:
    try:
        found = await models.get_payout_for_update(session, uuid.UUID(payout_id))
    except ValueError:
        found = None
    if found is None:
        # payout.requested is ours: the ledger cannot answer a payout we never stored.
        raise PermanentError(f"no payout {payout_id}")
    return found
