"""The events payouts applies. Each runs inside the consumer's transaction,
after the inbox has claimed the event id (see common.consumers)."""

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from common.consumers import EventHandlers
from contracts.events.ledger import BalanceChanged
from payouts import models

log = logging.getLogger(__name__)

handlers = EventHandlers()


@handlers.on(BalanceChanged)
async def on_balance_changed(event: BalanceChanged, session: AsyncSession) -> None:
    if not await models.apply_balance_changed(session, event):
        log.info(
            "ignored stale balance of %s in %s (%s)",
            event.data.creator_id, event.data.currency, event.event_id,
        )
