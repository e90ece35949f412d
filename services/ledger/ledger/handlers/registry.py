"""The ledger's handler registry and what its handlers share: posting a
creator's entry and announcing the new balance."""

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from common import outbox, parking
from common.applying import Applying, EventHandlers
from contracts.envelope import Event
from contracts.events.debts import (
    DebtCreated,
    DebtCreatedData,
)
from contracts.events.ledger import BalanceChanged, BalanceChangedData
from ledger import domain, models
from ledger.chain import EntryFacts
from ledger.settings import Settings

PRODUCER = "ledger"

log = logging.getLogger(__name__)

# The ledger's rule errors are permanent: a retry cannot fix them.
handlers: EventHandlers[Settings] = EventHandlers(permanent=(domain.LedgerError,))
LedgerApplying = Applying[Settings]


async def post_entry(applying: LedgerApplying, **entry: Any) -> uuid.UUID | None:
    """post_entries of one entry; its id, or None if it was posted before."""
    return (await post_entries(applying, [models.NewEntry(**entry)])).get(entry["cause_event_id"])


async def post_entries(applying: LedgerApplying, entries: Sequence[models.NewEntry]) -> dict[uuid.UUID, uuid.UUID]:
    """models.post_entries, then the entries posted announced: events parked
    waiting for one (models.entry_key) are applied after this batch's handlers."""
    posted = await models.post_entries(applying.session, entries)
    for entry in entries:
        if entry.cause_event_id in posted and entry.reference is not None:
            applying.ready(models.entry_key(entry.kind, entry.reference))
    return posted


async def require_posted(session: AsyncSession, kind: str, reference: str, event: Event) -> list[domain.Posting]:
    postings = await models.entry_postings(session, kind, reference)
    if postings is None:
        # Each event type is its own topic: a refund can be read before its
        # payment. It waits parked until that entry is posted (post_entries).
        raise parking.NotReady(waits_for=models.entry_key(kind, reference))
    return postings


async def post_creator_entry(
    applying: LedgerApplying,
    event: Event,
    *,
    kind: str,
    creator_id: str,
    currency: str,
    cause: tuple[str, str],
    postings: list[domain.Posting],
    facts: EntryFacts,
) -> None:
    """Post an entry that takes from the creator; a shortfall opens a debt."""
    cause_type, cause_id = cause
    session = applying.session
    entry_id = await post_entry(
        applying,
        cause_event_id=event.event_id,
        kind=kind,
        creator_id=creator_id,
        reference=f"{cause_type}:{cause_id}",
        postings=postings,
        facts=facts,
    )
    if entry_id is None:
        return
    shortfall = domain.debt_posted(creator_id, postings)
    if shortfall > 0:
        debt = await models.create_debt(
            session,
            creator_id=creator_id,
            currency=currency,
            cause_type=cause_type,
            cause_id=cause_id,
            entry_id=entry_id,
            amount_minor=shortfall,
        )
        balance = await models.creator_balance(session, creator_id, currency)
        await outbox.add(
            session,
            DebtCreated.new(
                DebtCreatedData(
                    debt_id=str(debt.id),
                    creator_id=creator_id,
                    amount_minor=shortfall,
                    currency=currency,
                    cause_type=cause_type,
                    cause_id=cause_id,
                    total_debt_minor=balance.debt_minor,
                ),
                producer=PRODUCER,
                creator_id=creator_id,
                cause=event,
            ),
        )
    await announce_balance(session, creator_id, currency, entry_id, cause=event)


async def announce_balance(
    session: AsyncSession, creator_id: str, currency: str, entry_id: uuid.UUID, *, cause: Event
) -> None:
    balance = await models.creator_balance(session, creator_id, currency)
    await outbox.add(session, balance_changed(creator_id, balance, entry_id, cause=cause))


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
