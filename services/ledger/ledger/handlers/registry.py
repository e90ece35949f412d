"""The ledger's handler registry and what its handlers share: posting entries
and announcing the new balance."""

import logging
import uuid
from collections.abc import Sequence

from common.applying import Applying, EventHandlers
from contracts.envelope import Event
from contracts.events.ledger import BalanceChanged, BalanceChangedData
from ledger import domain, models
from ledger.settings import Settings

PRODUCER = "ledger"

log = logging.getLogger(__name__)

# The ledger's rule errors are permanent: a retry cannot fix them.
handlers: EventHandlers[Settings] = EventHandlers(permanent=(domain.LedgerError,))
LedgerApplying = Applying[Settings]


async def post_entries(applying: LedgerApplying, entries: Sequence[models.NewEntry]) -> dict[uuid.UUID, uuid.UUID]:
    """models.post_entries, then the entries posted announced: events parked
    waiting for one (models.entry_key) are applied after this batch's handlers."""
    posted = await models.post_entries(applying.session, entries)
    for entry in entries:
        if entry.cause_event_id in posted and entry.reference is not None:
            applying.ready(models.entry_key(entry.kind, entry.reference))
    return posted


def balance_changed(
    creator_id: str, balance: domain.CreatorBalance, entry_id: uuid.UUID, *, cause: Event
) -> BalanceChanged:
    """The creator's balance as the entry `entry_id` left it."""
    return BalanceChanged.new(
        BalanceChangedData(
            creator_id=creator_id,
            currency=balance.currency,
            journal_entry_id=str(entry_id),
            available_minor=balance.available_minor,
            disputed_minor=balance.disputed_minor,
            reserved_minor=balance.reserved_minor,
            debt_minor=balance.debt_minor,
        ),
        producer=PRODUCER,
        creator_id=creator_id,
        cause=cause,
    )
