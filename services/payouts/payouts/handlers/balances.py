"""The creators' balances as the ledger announces them (`ledger.balance_changed`)."""

import logging

from common.applying import one_at_a_time
from contracts.events.ledger import BalanceChanged
from payouts import models
from payouts.handlers.registry import PayoutsApplying, handlers

log = logging.getLogger(__name__)


@handlers.on(BalanceChanged)
@one_at_a_time
async def on_balance_changed(event: BalanceChanged, applying: PayoutsApplying) -> None:
    if not await models.apply_balance_changed(applying.session, event):
        log.info(
            "ignored stale balance of %s in %s (%s)",
            event.data.creator_id, event.data.currency, event.event_id,
        )
