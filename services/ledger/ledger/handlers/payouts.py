"""Payouts: the reservation that answers a request, and what follows it.

Set-based: a run of one payout event type is applied in a number of statements
that does not grow with it (its creators locked, then their balance rows, their
debts and the payouts' reservations read once; each event decided in delivery
order by ledger.domain.reservations on what the events before it left; the entries,
reservations, debts and announcements written one statement each)."""

import uuid
from collections.abc import Sequence

from common import outbox, parking
from contracts.envelope import Event
from contracts.events.debts import DebtDeducted, DebtDeductedData, DebtSettled, DebtSettledData
from contracts.events.payouts import (
    DebtDeduction,
    FundsRejectedData,
    FundsReservedData,
    PayoutCanceled,
    PayoutFailed,
    PayoutFundsRejected,
    PayoutFundsReserved,
    PayoutPaid,
    PayoutRejected,
    PayoutRequested,
)
from ledger import domain, models
from ledger.domain import reservations
from ledger.handlers.registry import PRODUCER, LedgerApplying, balance_changed, handlers, log, post_entries


@handlers.on(PayoutRequested)
async def on_payout_requested(events: Sequence[PayoutRequested], applying: LedgerApplying) -> None:
    """Reserve each request's gross (deducting open debt, oldest first) or refuse
    it; never both, once per payout. A creator's second request in the batch is
    decided on what the first left (and may be refused for it, as one by one)."""
    session = applying.session
    creators = {event.data.creator_id for event in events}
    # The creators' locks (after the chain's) before their balances and debts are read.
    await models.lock_creators(session, creators)
    book = reservations.Book(
        sums=await models.creator_account_sums(session, creators),
        debts=await models.open_debts_for_update(session, creators),
        reservations=await models.reservations_for_update(session, [event.data.payout_id for event in events]),
    )
    outcomes = reservations.decide_requests(
        [event.data for event in events], book, applying.needs.debt_block_threshold_minor
    )
    decided = [(event, outcome) for event, outcome in zip(events, outcomes, strict=True) if outcome is not None]
    await models.add_reservations(session, [book.reservations[event.data.payout_id] for event, _ in decided])
    reserved = [(event, outcome) for event, outcome in decided if isinstance(outcome, reservations.Reserved)]
    entry_ids = await _post(applying, [(event, reservations.PAYOUT_RESERVED, outcome.postings)
                                       for event, outcome in reserved])
    await models.set_debts_amounts(session, [book.debts[debt_id] for debt_id in sorted(book.changed_debts)])
    announced: list[Event] = []
    for event, outcome in decided:
        data = event.data
        if isinstance(outcome, reservations.Refused):
            # Nothing is posted, but events parked on the reservation must not wait
            # for ever: released now, they find the refusal and change nothing.
            applying.ready(models.entry_key(reservations.PAYOUT_RESERVED, reservations.reference(data.payout_id)))
            announced.append(_funds_rejected(event, outcome))
            continue
        announced += [announcement for deduction, debt in outcome.deducted
                      for announcement in _deduction_announced(event, deduction, debt)]
        announced.append(_funds_reserved(event, outcome))
        announced.append(balance_changed(data.creator_id, outcome.balance, entry_ids[event.event_id], cause=event))
    await outbox.add_many(session, announced)


@handlers.on(PayoutRejected)
async def on_payout_rejected(events: Sequence[PayoutRejected], applying: LedgerApplying) -> None:
    await _apply_steps(applying, reservations.RELEASE, events)


@handlers.on(PayoutCanceled)
async def on_payout_canceled(events: Sequence[PayoutCanceled], applying: LedgerApplying) -> None:
    await _apply_steps(applying, reservations.RELEASE, events)


@handlers.on(PayoutPaid)
async def on_payout_paid(events: Sequence[PayoutPaid], applying: LedgerApplying) -> None:
    await _apply_steps(applying, reservations.PAY, events)


@handlers.on(PayoutFailed)
async def on_payout_failed(events: Sequence[PayoutFailed], applying: LedgerApplying) -> None:
    await _apply_steps(applying, reservations.FAIL, events)


async def _apply_steps(
    applying: LedgerApplying, action: str, events: Sequence[PayoutRejected | PayoutCanceled | PayoutPaid | PayoutFailed]
) -> None:
    """A run of one step of the payout workflow: each reservation still RESERVED
    (or PAID, for a failure) is released, paid or failed, in order; a stale or
    repeated step changes nothing; the first step read before what it builds on
    waits, parked."""
    session = applying.session
    creators = {event.data.creator_id for event in events}
    await models.lock_creators(session, creators)
    stored = await models.reservations_for_update(session, [event.data.payout_id for event in events])
    deducted_from = [deduction.debt_id for r in stored.values() for deduction in r.reserved.deductions]
    book = reservations.Book(
        sums=await models.creator_account_sums(session, creators),
        debts=await models.debts_for_update(session, deducted_from),
        reservations=stored,
    )
    outcomes = reservations.decide_steps(action, [
        reservations.Step(event.data.payout_id, event.data.creator_id,
                          was_paid=isinstance(event, PayoutFailed) and event.data.was_paid)
        for event in events
    ], book)
    for event, outcome in zip(events, outcomes, strict=True):
        if isinstance(outcome, reservations.Waits):
            reference = reservations.reference(event.data.payout_id)
            raise parking.NotReady(models.entry_key(outcome.kind, reference), event_id=event.event_id)
    moved = []
    for event, outcome in zip(events, outcomes, strict=True):
        if outcome is None:
            status = book.reservations[event.data.payout_id].status
            log.info("%s for payout %s, reservation %s: nothing to do", event.event_type, event.data.payout_id, status)
        elif outcome.postings is None:
            # Settled wholly by debt: nothing is posted, but a failure parked
            # on the payment still has to be released.
            applying.ready(models.entry_key(outcome.kind, reservations.reference(event.data.payout_id)))
        else:
            moved.append((event, outcome))
    entry_ids = await _post(applying, [(event, outcome.kind, outcome.postings) for event, outcome in moved])
    await models.set_reservation_statuses(
        session, [book.reservations[payout_id] for payout_id in sorted(book.changed_reservations)]
    )
    await models.set_debts_amounts(session, [book.debts[debt_id] for debt_id in sorted(book.changed_debts)])
    await outbox.add_many(session, [
        balance_changed(event.data.creator_id, outcome.balance, entry_ids[event.event_id], cause=event)
        for event, outcome in moved
    ])


async def _post(
    applying: LedgerApplying, entries: list[tuple[Event, str, list[domain.Posting]]]
) -> dict[uuid.UUID, uuid.UUID]:
    """The payouts' entries, posted together; the cause event id -> entry id of each.
    Every one posts: a payout's reservation row, written with its entries in one
    transaction, says which of them the journal holds."""
    if not entries:
        return {}
    return await post_entries(applying, [
        models.NewEntry(cause_event_id=event.event_id, kind=kind, creator_id=event.data.creator_id,
                        reference=reservations.reference(event.data.payout_id), postings=postings)
        for event, kind, postings in entries
    ])


def _funds_rejected(event: PayoutRequested, refused: reservations.Refused) -> PayoutFundsRejected:
    data = event.data
    return PayoutFundsRejected.new(
        FundsRejectedData(
            payout_id=data.payout_id, creator_id=data.creator_id, currency=data.currency,
            reason=refused.refusal.reason, detail=refused.refusal.detail,
            available_minor=refused.balance.available_minor, debt_minor=refused.balance.debt_minor,
        ),
        producer=PRODUCER, creator_id=data.creator_id, cause=event,
    )


def _funds_reserved(event: PayoutRequested, reserved: reservations.Reserved) -> PayoutFundsReserved:
    data, decision = event.data, reserved.reservation
    return PayoutFundsReserved.new(
        FundsReservedData(
            payout_id=data.payout_id, creator_id=data.creator_id, currency=data.currency,
            amount_minor=decision.gross_minor, debt_deducted_minor=decision.debt_deducted_minor,
            net_minor=decision.net_minor,
            deductions=[DebtDeduction(debt_id=d.debt_id, amount_minor=d.amount_minor) for d in decision.deductions],
        ),
        producer=PRODUCER, creator_id=data.creator_id, cause=event,
    )


def _deduction_announced(
    event: PayoutRequested, deduction: domain.Deduction, debt: domain.StoredDebt
) -> list[Event]:
    """The debt's deduction, and its settlement if nothing of it remains."""
    payout_id, amounts = event.data.payout_id, debt.amounts
    announced: list[Event] = [DebtDeducted.new(
        DebtDeductedData(
            debt_id=deduction.debt_id, creator_id=debt.creator_id, payout_id=payout_id,
            amount_minor=deduction.amount_minor, remaining_minor=amounts.remaining_minor, currency=debt.currency,
        ),
        producer=PRODUCER, creator_id=debt.creator_id, cause=event,
    )]
    if amounts.remaining_minor == 0:
        announced.append(DebtSettled.new(
            DebtSettledData(
                debt_id=deduction.debt_id, creator_id=debt.creator_id, currency=debt.currency,
                amount_minor=amounts.amount_minor, payout_id=payout_id,
            ),
            producer=PRODUCER, creator_id=debt.creator_id, cause=event,
        ))
    return announced
