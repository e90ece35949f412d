"""How a batch of refund or dispute movements is applied, set-based: the rows
the batch needs read once (the chain's and the creators' locks first), the
pure rules of ledger.domain.movements decide each event in delivery order, and the
effects are written one statement per table: takebacks, entries (with their
postings and balance rows), debts opened or reversed, then the announcements.
A batch of 1, 3 or 30 costs the same statements.
"""

import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from common import outbox, parking
from contracts.envelope import Event
from contracts.events.debts import DebtCreated, DebtCreatedData
from ledger import models
from ledger.domain import entitlement, movements
from ledger.handlers.registry import PRODUCER, LedgerApplying, balance_changed, post_entries

About = TypeVar("About", bound=movements.Refund | movements.Dispute)


async def apply_movements(
    applying: LedgerApplying,
    events: Sequence[Event],
    abouts: Sequence[About | None],
    decide: Callable[[movements.Books, Sequence[About | None]], list[movements.Movement | None]],
) -> None:
    """`abouts`: what each event says (None: nothing to apply); `decide`: the rule."""
    if all(about is None for about in abouts):
        return
    books = await _read_books(applying.session, [about for about in abouts if about is not None])
    try:
        decided = decide(books, abouts)
    except movements.Unposted as wait:
        # Each event type is its own topic: a refund can be read before its
        # payment. It waits parked until that entry is posted (post_entries).
        raise parking.NotReady(models.entry_key(wait.kind, wait.reference),
                               event_id=events[wait.position].event_id) from wait
    await _write(applying, [(event, movement) for event, movement in zip(events, decided, strict=True)
                            if movement is not None])


async def _read_books(session: AsyncSession, abouts: Sequence[movements.Refund | movements.Dispute]) -> movements.Books:
    creators = {about.creator_id for about in abouts}
    # The creators' locks (after the chain's) before their balances are read:
    # a shortfall is computed from the `available` the entries land on.
    await models.lock_creators(session, creators)
    payments = {about.payment_id for about in abouts}
    posted = await models.entries_posted(session, [asked for about in abouts
                                                   for asked in movements.entries_asked(about)])
    terms = await models.payment_terms_for_update(session, payments)
    takebacks = await models.takebacks_of(session, payments, {about.reference for about in abouts})
    # The debts a failure may cancel: those of the refunds counted as succeeded.
    refunds = [about.refund_id for about in abouts if isinstance(about, movements.Refund)
               and about.reference in takebacks and takebacks[about.reference].status == entitlement.REFUNDED]
    return movements.Books(
        posted=posted, terms=terms, takebacks=takebacks,
        refund_debts=await models.refund_debts_for_update(session, refunds) if refunds else {},
        sums=await models.creator_account_sums(session, creators),
    )


async def _write(applying: LedgerApplying, decided: Sequence[tuple[Event, movements.Movement]]) -> None:
    session = applying.session
    await models.store_takebacks(session, {movement.reference: movement.takeback for _, movement in decided})
    entries = [(event, movement.entry) for event, movement in decided if movement.entry is not None]
    posted = await post_entries(applying, [
        models.NewEntry(cause_event_id=event.event_id, kind=entry.kind, creator_id=entry.creator_id,
                        reference=entry.reference, postings=entry.postings, facts=entry.facts)
        for event, entry in entries
    ])
    entries = [(event, entry, posted[event.event_id]) for event, entry in entries if event.event_id in posted]
    opened = [(event, entry, entry_id) for event, entry, entry_id in entries if entry.opened_debt is not None]
    debt_ids = dict(zip([event.event_id for event, _, _ in opened], models.new_debt_ids(len(opened)), strict=True))
    await models.add_debts(session, [
        models.NewDebt(debt_ids[event.event_id], entry.creator_id, entry.currency, entry.opened_debt.cause_type,
                       entry.opened_debt.cause_id, entry_id, entry.opened_debt.amount_minor)
        for event, entry, entry_id in opened
    ])
    await models.set_debts_amounts(session, [entry.reversed_debt for _, entry, _ in entries
                                             if entry.reversed_debt is not None])
    announcements: list[Event] = []
    for event, entry, entry_id in entries:
        if entry.opened_debt is not None:
            announcements.append(_debt_created(event, entry, debt_ids[event.event_id]))
        announcements.append(balance_changed(entry.creator_id, entry.balance, entry_id, cause=event))
    await outbox.add_many(session, announcements)


def _debt_created(event: Event, entry: movements.Entry, debt_id: uuid.UUID) -> DebtCreated:
    debt = entry.opened_debt
    assert debt is not None
    return DebtCreated.new(
        DebtCreatedData(
            debt_id=str(debt_id), creator_id=entry.creator_id, amount_minor=debt.amount_minor,
            currency=entry.currency, cause_type=debt.cause_type, cause_id=debt.cause_id,
            total_debt_minor=entry.balance.debt_minor,
        ),
        producer=PRODUCER, creator_id=entry.creator_id, cause=event,
    )
