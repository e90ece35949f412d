"""Payouts: the reservation that answers a request, and what follows it."""

from sqlalchemy.ext.asyncio import AsyncSession

from common import outbox, parking
from common.applying import one_at_a_time
from contracts.envelope import Event
from contracts.events.debts import (
    DebtDeducted,
    DebtDeductedData,
    DebtSettled,
    DebtSettledData,
)
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
from ledger.handlers.registry import PRODUCER, LedgerApplying, announce_balance, handlers, log, post_entry

# Journal entry kinds of a payout, each posted at most once per payout (reference payout:<id>).
PAYOUT_RESERVED = "payout_reserved"
PAYOUT_RELEASED = "payout_released"  # rejected, canceled, or failed before it was paid
PAYOUT_PAID = "payout_paid"
PAYOUT_FAILED_AFTER_PAID = "payout_failed_after_paid"


@handlers.on(PayoutRequested)
@one_at_a_time
async def on_payout_requested(event: PayoutRequested, applying: LedgerApplying) -> None:
    """Reserve the gross (deducting open debt, oldest first) or refuse; never both, once per payout."""
    session = applying.session
    data = event.data
    await models.lock_creator(session, data.creator_id)
    if await models.get_reservation_for_update(session, data.payout_id) is not None:
        return  # the same request announced twice: decided once
    balances = {b.currency: b for b in await models.creator_balances(session, data.creator_id)}
    balance = balances.get(data.currency, domain.CreatorBalance(currency=data.currency))
    debts = await models.open_debts_for_update(session, data.creator_id, data.currency)
    decision = domain.reserve(
        available=balance.available_minor,
        open_debts=[domain.OpenDebt(str(d.id), d.remaining_minor) for d in debts],
        requested=data.amount_minor,
        minimum=data.minimum_minor,
        threshold=applying.needs.debt_block_threshold_minor,
        currency_known=data.currency in balances,
    )
    await models.add_reservation(
        session, payout_id=data.payout_id, creator_id=data.creator_id, currency=data.currency, decision=decision
    )
    reference = f"payout:{data.payout_id}"
    if isinstance(decision, domain.Refusal):
        # Nothing is posted, but events parked on the reservation must not wait
        # for ever: released now, they find the refusal and change nothing.
        applying.ready(models.entry_key(PAYOUT_RESERVED, reference))
        await outbox.add(
            session,
            PayoutFundsRejected.new(
                FundsRejectedData(
                    payout_id=data.payout_id, creator_id=data.creator_id, currency=data.currency,
                    reason=decision.reason, detail=decision.detail,
                    available_minor=balance.available_minor, debt_minor=balance.debt_minor,
                ),
                producer=PRODUCER, creator_id=data.creator_id, cause=event,
            ),
        )
        return
    entry_id = await post_entry(
        applying,
        cause_event_id=event.event_id,
        kind=PAYOUT_RESERVED,
        creator_id=data.creator_id,
        reference=reference,
        postings=domain.payout_reserved_postings(
            data.creator_id, decision.gross_minor, decision.debt_deducted_minor, data.currency
        ),
    )
    if entry_id is None:
        return
    by_id = {str(d.id): d for d in debts}
    for deduction in decision.deductions:
        debt = by_id[deduction.debt_id]
        models.set_debt_amounts(debt, debt.amounts().deduct(deduction.amount_minor))
        await _announce_deduction(session, debt, deduction, data.payout_id, cause=event)
    await outbox.add(
        session,
        PayoutFundsReserved.new(
            FundsReservedData(
                payout_id=data.payout_id, creator_id=data.creator_id, currency=data.currency,
                amount_minor=decision.gross_minor, debt_deducted_minor=decision.debt_deducted_minor,
                net_minor=decision.net_minor,
                deductions=[DebtDeduction(debt_id=d.debt_id, amount_minor=d.amount_minor) for d in decision.deductions],
            ),
            producer=PRODUCER, creator_id=data.creator_id, cause=event,
        ),
    )
    await announce_balance(session, data.creator_id, data.currency, entry_id, cause=event)


@handlers.on(PayoutRejected)
@one_at_a_time
async def on_payout_rejected(event: PayoutRejected, applying: LedgerApplying) -> None:
    session = applying.session
    if reservation := await _reservation(session, event, event.data.payout_id, event.data.creator_id):
        await _release(applying, event, reservation, domain.RESERVATION_RELEASED)


@handlers.on(PayoutCanceled)
@one_at_a_time
async def on_payout_canceled(event: PayoutCanceled, applying: LedgerApplying) -> None:
    session = applying.session
    if reservation := await _reservation(session, event, event.data.payout_id, event.data.creator_id):
        await _release(applying, event, reservation, domain.RESERVATION_RELEASED)


@handlers.on(PayoutPaid)
@one_at_a_time
async def on_payout_paid(event: PayoutPaid, applying: LedgerApplying) -> None:
    session = applying.session
    data = event.data
    reservation = await _reservation(session, event, data.payout_id, data.creator_id)
    if reservation is None:
        return
    reference = f"payout:{data.payout_id}"
    if reservation.net_minor == 0:
        # Settled wholly by debt: no money leaves, nothing to post; a failure
        # event parked on the payment still has to be released.
        applying.ready(models.entry_key(PAYOUT_PAID, reference))
        models.set_reservation_status(reservation, domain.RESERVATION_PAID)
        return
    entry_id = await post_entry(
        applying,
        cause_event_id=event.event_id,
        kind=PAYOUT_PAID,
        creator_id=data.creator_id,
        reference=reference,
        postings=domain.payout_paid_postings(data.creator_id, reservation.net_minor, reservation.currency),
    )
    if entry_id is None:
        return
    models.set_reservation_status(reservation, domain.RESERVATION_PAID)
    await announce_balance(session, data.creator_id, reservation.currency, entry_id, cause=event)


@handlers.on(PayoutFailed)
@one_at_a_time
async def on_payout_failed(event: PayoutFailed, applying: LedgerApplying) -> None:
    session = applying.session
    data = event.data
    reference = f"payout:{data.payout_id}"
    await models.lock_creator(session, data.creator_id)
    reservation = await _require_reservation(session, data.payout_id, reference)
    if reservation.status == domain.RESERVATION_RESERVED and data.was_paid:
        # payout.paid is another topic: a failure that follows a payment waits for it.
        raise parking.NotReady(waits_for=models.entry_key(PAYOUT_PAID, reference))
    if reservation.status == domain.RESERVATION_RESERVED:
        await _release(applying, event, reservation, domain.RESERVATION_FAILED)
        return
    if reservation.status != domain.RESERVATION_PAID:
        log.warning("payout.failed for payout %s, reservation %s: ignored", data.payout_id, reservation.status)
        return
    undone = await _restore_debts(session, reservation)
    entry_id = await post_entry(
        applying,
        cause_event_id=event.event_id,
        kind=PAYOUT_FAILED_AFTER_PAID,
        creator_id=data.creator_id,
        reference=reference,
        postings=domain.payout_failed_after_paid_postings(
            data.creator_id, reservation.gross_minor, reservation.debt_deducted_minor, undone, reservation.currency
        ),
    )
    if entry_id is None:
        return
    models.set_reservation_status(reservation, domain.RESERVATION_FAILED)
    await announce_balance(session, data.creator_id, reservation.currency, entry_id, cause=event)


async def _require_reservation(session: AsyncSession, payout_id: str, reference: str) -> models.PayoutReservation:
    reservation = await models.get_reservation_for_update(session, payout_id)
    if reservation is None:
        # payout.requested is another topic: a decision read before the request
        # waits for the ledger's answer to it (a reservation or a refusal).
        raise parking.NotReady(waits_for=models.entry_key(PAYOUT_RESERVED, reference))
    return reservation


async def _reservation(
    session: AsyncSession, event: Event, payout_id: str, creator_id: str
) -> models.PayoutReservation | None:
    """The reservation still RESERVED, or None (refused, or already moved on:
    a stale or repeated step changes nothing)."""
    await models.lock_creator(session, creator_id)
    reservation = await _require_reservation(session, payout_id, f"payout:{payout_id}")
    if reservation.status != domain.RESERVATION_RESERVED:
        log.info("%s for payout %s, reservation %s: nothing to do", event.event_type, payout_id, reservation.status)
        return None
    return reservation


async def _release(
    applying: LedgerApplying,
    event: PayoutRejected | PayoutCanceled | PayoutFailed,
    reservation: models.PayoutReservation,
    status: str,
) -> None:
    """Reverse the reservation and its debt deduction."""
    data = event.data
    session = applying.session
    undone = await _restore_debts(session, reservation)
    entry_id = await post_entry(
        applying,
        cause_event_id=event.event_id,
        kind=PAYOUT_RELEASED,
        creator_id=data.creator_id,
        reference=f"payout:{data.payout_id}",
        postings=domain.payout_released_postings(
            data.creator_id, reservation.gross_minor, reservation.debt_deducted_minor, undone, reservation.currency
        ),
    )
    if entry_id is None:
        return
    models.set_reservation_status(reservation, status)
    await announce_balance(session, data.creator_id, reservation.currency, entry_id, cause=event)


async def _restore_debts(session: AsyncSession, reservation: models.PayoutReservation) -> int:
    """Give the reservation's deductions back to their debts; returns how much of
    it belonged to debts whose cause was undone meanwhile (cancelled, not owed)."""
    deductions = reservation.deductions_made()
    debts = await models.get_debts_for_update(session, [d.debt_id for d in deductions])
    undone = 0
    for deduction in deductions:
        debt = debts[deduction.debt_id]
        cause_undone = await models.debt_cause_undone(session, debt)
        models.set_debt_amounts(debt, debt.amounts().restore(deduction.amount_minor, cause_undone=cause_undone))
        undone += deduction.amount_minor if cause_undone else 0
    return undone


async def _announce_deduction(
    session: AsyncSession, debt: models.Debt, deduction: domain.Deduction, payout_id: str, *, cause: Event
) -> None:
    await outbox.add(
        session,
        DebtDeducted.new(
            DebtDeductedData(
                debt_id=deduction.debt_id, creator_id=debt.creator_id, payout_id=payout_id,
                amount_minor=deduction.amount_minor, remaining_minor=debt.remaining_minor, currency=debt.currency,
            ),
            producer=PRODUCER, creator_id=debt.creator_id, cause=cause,
        ),
    )
    if debt.remaining_minor == 0:
        await outbox.add(
            session,
            DebtSettled.new(
                DebtSettledData(
                    debt_id=deduction.debt_id, creator_id=debt.creator_id, currency=debt.currency,
                    amount_minor=debt.amount_minor, payout_id=payout_id,
                ),
                producer=PRODUCER, creator_id=debt.creator_id, cause=cause,
            ),
        )


