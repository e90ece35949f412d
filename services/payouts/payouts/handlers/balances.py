"""The creators' balances as the ledger announces them (`ledger.balance_changed`,
one per payment credited: the event payouts applies most). Set-based: a batch
is one statement, whatever its size."""

import logging
from collections.abc import Sequence

from contracts.events.ledger import BalanceChanged
from payouts import models
from payouts.domain.balances import latest_balances
from payouts.handlers.registry import PayoutsApplying, handlers

log = logging.getLogger(__name__)


@handlers.on(BalanceChanged)
async def on_balance_changed(events: Sequence[BalanceChanged], applying: PayoutsApplying) -> None:
    # The batch's newest per creator and currency: the others would be overwritten
    # within the batch, and one statement may not update a row twice.
    newest = latest_balances(events)
    stored = await models.upsert_balances(applying.session, newest)
    for event in newest:
        if (event.data.creator_id, event.data.currency) not in stored:
            log.info(
                "ignored stale balance of %s in %s (%s)",
                event.data.creator_id, event.data.currency, event.event_id,
            )
