"""The events the ledger applies. Each runs inside the consumer's transaction,
after the inbox has claimed the event id (see common.consumers).

Entries that read a creator's balance first take the creator's lock
(models.lock_creator), so the `available` a shortfall is computed from is the
one the entry lands on.
"""

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from common import outbox, parking
from common.consumers import EventHandlers, PermanentError
from contracts.envelope import Event
from contracts.events.debts import (
    DebtCreated,
    DebtCreatedData,
    DebtDeducted,
    DebtDeductedData,
    DebtSettled,
    DebtSettledData,
)
from contracts.events.disputes import DisputeClosed, DisputeCreated, DisputeFundsReinstated, DisputeFundsWithdrawn
from contracts.events.ledger import BalanceChanged, BalanceChangedData
from contracts.events.payments import PaymentFeeRecorded, PaymentSucceeded
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
from contracts.events.refunds import RefundCreated, RefundFailed
from ledger import domain, models
from ledger.settings import Settings

PRODUCER = "ledger"

log = logging.getLogger(__name__)

# Journal entry kinds of a payout, each posted at most once per payout (reference payout:<id>).
PAYOUT_RESERVED = "payout_reserved"
PAYOUT_RELEASED = "payout_released"  # rejected, canceled, or failed before it was paid
PAYOUT_PAID = "payout_paid"
PAYOUT_FAILED_AFTER_PAID = "payout_failed_after_paid"

handlers = EventHandlers()


def on(model: type[Event]) -> Callable[[Callable[..., Awaitable[None]]], Any]:
    """handlers.on, with the ledger's rule errors made permanent (a retry cannot fix them)."""

    def register(handler: Callable[..., Awaitable[None]]) -> Any:
        @functools.wraps(handler)
        async def applying_rules(event: Event, session: AsyncSession) -> None:
            try:
                await handler(event, session)
            except domain.LedgerError as error:
                raise PermanentError(f"{type(error).__name__}: {error}") from error

        return handlers.on(model)(applying_rules)

    return register


@on(PaymentSucceeded)
async def on_payment_succeeded(event: PaymentSucceeded, session: AsyncSession) -> None:
    data = event.data
    # A payment while in debt still credits `available`: debt is deducted at payout time.
    postings = domain.payment_postings(data.creator_id, data.price_minor, data.creator_share_minor, data.currency)
    entry_id = await models.post_entry(
        session,
        cause_event_id=event.event_id,
        kind="payment",
        creator_id=data.creator_id,
        reference=f"payment:{data.payment_id}",
        postings=postings,
    )
    if entry_id is not None:
        await announce_balance(session, data.creator_id, data.currency, entry_id, cause=event)


@on(PaymentFeeRecorded)
async def on_payment_fee_recorded(event: PaymentFeeRecorded, session: AsyncSession) -> None:
    data = event.data
    await models.post_entry(
        session,
        cause_event_id=event.event_id,
        kind="processing_fee",
        creator_id=data.creator_id,
        reference=f"payment:{data.payment_id}",
        postings=domain.fee_postings(data.fee_minor, data.currency),
    )


@on(RefundCreated)
async def on_refund_created(event: RefundCreated, session: AsyncSession) -> None:
    data = event.data
    await _require_posted(session, "payment", f"payment:{data.payment_id}", event)
    await models.lock_creator(session, data.creator_id)
    available = (await models.creator_balance(session, data.creator_id, data.currency)).available_minor
    postings = domain.refund_postings(
        data.creator_id, data.amount_minor, data.creator_clawback_minor, available, data.currency
    )
    await _post_creator_entry(
        session, event, kind="refund", creator_id=data.creator_id, currency=data.currency,
        cause=("refund", data.refund_id), postings=postings,
    )


@on(RefundFailed)
async def on_refund_failed(event: RefundFailed, session: AsyncSession) -> None:
    data = event.data
    if not data.was_succeeded:
        return  # never posted, nothing to reverse
    reference = f"refund:{data.refund_id}"
    refund = await _require_posted(session, "refund", reference, event)
    await models.lock_creator(session, data.creator_id)
    debt = await models.get_debt_for_update(session, "refund", data.refund_id)
    deducted = debt.amounts().deducted_minor if debt else 0
    postings = domain.refund_reversal_postings(data.creator_id, refund, deducted)
    entry_id = await models.post_entry(
        session,
        cause_event_id=event.event_id,
        kind="refund_reversal",
        creator_id=data.creator_id,
        reference=reference,
        postings=postings,
    )
    if entry_id is None:
        return
    if debt is not None:
        models.set_debt_amounts(debt, debt.amounts().reversed())
    await announce_balance(session, data.creator_id, data.currency, entry_id, cause=event)


@on(DisputeCreated)
async def on_dispute_created(event: DisputeCreated, session: AsyncSession) -> None:
    data = event.data
    await _require_posted(session, "payment", f"payment:{data.payment_id}", event)
    await models.lock_creator(session, data.creator_id)
    available = (await models.creator_balance(session, data.creator_id, data.currency)).available_minor
    postings = domain.dispute_opened_postings(data.creator_id, data.creator_share_minor, available, data.currency)
    await _post_creator_entry(
        session, event, kind="dispute_opened", creator_id=data.creator_id, currency=data.currency,
        cause=("dispute", data.dispute_id), postings=postings,
    )


@on(DisputeFundsWithdrawn)
async def on_dispute_funds_withdrawn(event: DisputeFundsWithdrawn, session: AsyncSession) -> None:
    data = event.data
    await models.post_entry(
        session,
        cause_event_id=event.event_id,
        kind="dispute_funds_withdrawn",
        creator_id=data.creator_id,
        reference=f"dispute:{data.dispute_id}",
        postings=domain.dispute_funds_withdrawn_postings(data.amount_minor, data.fee_minor, data.currency),
    )


@on(DisputeFundsReinstated)
async def on_dispute_funds_reinstated(event: DisputeFundsReinstated, session: AsyncSession) -> None:
    data = event.data
    await models.post_entry(
        session,
        cause_event_id=event.event_id,
        kind="dispute_funds_reinstated",
        creator_id=data.creator_id,
        reference=f"dispute:{data.dispute_id}",
        postings=domain.dispute_funds_reinstated_postings(data.amount_minor, data.fee_minor, data.currency),
    )


@on(DisputeClosed)
async def on_dispute_closed(event: DisputeClosed, session: AsyncSession) -> None:
    data = event.data
    reference = f"dispute:{data.dispute_id}"
    opened = await _require_posted(session, "dispute_opened", reference, event)
    # What was frozen is what the outcome releases, whatever the closing event says.
    frozen = -sum(
        p.amount_minor for p in opened if p.account == domain.creator_account(data.creator_id, "disputed")
    )
    if data.outcome == "won":
        postings = domain.dispute_won_postings(data.creator_id, frozen, data.currency)
    else:
        postings = domain.dispute_lost_postings(data.creator_id, data.amount_minor, frozen, data.currency)
    await models.lock_creator(session, data.creator_id)
    entry_id = await models.post_entry(
        session,
        cause_event_id=event.event_id,
        kind="dispute_closed",  # one close per dispute: won or lost, never both
        creator_id=data.creator_id,
        reference=reference,
        postings=postings,
    )
    if entry_id is not None:
        await announce_balance(session, data.creator_id, data.currency, entry_id, cause=event)


@functools.cache
def _settings() -> Settings:
    return Settings()


@on(PayoutRequested)
async def on_payout_requested(event: PayoutRequested, session: AsyncSession) -> None:
    """Reserve the gross (deducting open debt, oldest first) or refuse; never both, once per payout."""
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
        threshold=_settings().debt_block_threshold_minor,
        currency_known=data.currency in balances,
    )
    await models.add_reservation(
        session, payout_id=data.payout_id, creator_id=data.creator_id, currency=data.currency, decision=decision
    )
    reference = f"payout:{data.payout_id}"
    if isinstance(decision, domain.Refusal):
        # Nothing is posted, but events parked on the reservation must not wait
        # for ever: released now, they find the refusal and change nothing.
        parking.ready(session, models.entry_key(PAYOUT_RESERVED, reference))
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
    entry_id = await models.post_entry(
        session,
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


@on(PayoutRejected)
async def on_payout_rejected(event: PayoutRejected, session: AsyncSession) -> None:
    if reservation := await _reservation(session, event, event.data.payout_id, event.data.creator_id):
        await _release(session, event, reservation, domain.RESERVATION_RELEASED)


@on(PayoutCanceled)
async def on_payout_canceled(event: PayoutCanceled, session: AsyncSession) -> None:
    if reservation := await _reservation(session, event, event.data.payout_id, event.data.creator_id):
        await _release(session, event, reservation, domain.RESERVATION_RELEASED)


@on(PayoutPaid)
async def on_payout_paid(event: PayoutPaid, session: AsyncSession) -> None:
    data = event.data
    reservation = await _reservation(session, event, data.payout_id, data.creator_id)
    if reservation is None:
        return
    reference = f"payout:{data.payout_id}"
    if reservation.net_minor == 0:
        # Settled wholly by debt: no money leaves, nothing to post; a failure
        # event parked on the payment still has to be released.
        parking.ready(session, models.entry_key(PAYOUT_PAID, reference))
        models.set_reservation_status(reservation, domain.RESERVATION_PAID)
        return
    entry_id = await models.post_entry(
        session,
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


@on(PayoutFailed)
async def on_payout_failed(event: PayoutFailed, session: AsyncSession) -> None:
    data = event.data
    reference = f"payout:{data.payout_id}"
    await models.lock_creator(session, data.creator_id)
    reservation = await _require_reservation(session, data.payout_id, reference)
    if reservation.status == domain.RESERVATION_RESERVED and data.was_paid:
        # payout.paid is another topic: a failure that follows a payment waits for it.
        raise parking.NotReady(waits_for=models.entry_key(PAYOUT_PAID, reference))
    if reservation.status == domain.RESERVATION_RESERVED:
        await _release(session, event, reservation, domain.RESERVATION_FAILED)
        return
    if reservation.status != domain.RESERVATION_PAID:
        log.warning("payout.failed for payout %s, reservation %s: ignored", data.payout_id, reservation.status)
        return
    undone = await _restore_debts(session, reservation)
    entry_id = await models.post_entry(
        session,
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
    session: AsyncSession,
    event: PayoutRejected | PayoutCanceled | PayoutFailed,
    reservation: models.PayoutReservation,
    status: str,
) -> None:
    """Reverse the reservation and its debt deduction."""
    data = event.data
    undone = await _restore_debts(session, reservation)
    entry_id = await models.post_entry(
        session,
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


async def _require_posted(session: AsyncSession, kind: str, reference: str, event: Event) -> list[domain.Posting]:
    postings = await models.entry_postings(session, kind, reference)
    if postings is None:
        # Each event type is its own topic: a refund can be read before its
        # payment. It waits parked until that entry is posted (models.post_entry).
        raise parking.NotReady(waits_for=models.entry_key(kind, reference))
    return postings


async def _post_creator_entry(
    session: AsyncSession,
    event: Event,
    *,
    kind: str,
    creator_id: str,
    currency: str,
    cause: tuple[str, str],
    postings: list[domain.Posting],
) -> None:
    """Post an entry that takes from the creator; a shortfall opens a debt."""
    cause_type, cause_id = cause
    entry_id = await models.post_entry(
        session,
        cause_event_id=event.event_id,
        kind=kind,
        creator_id=creator_id,
        reference=f"{cause_type}:{cause_id}",
        postings=postings,
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
    await outbox.add(
        session,
        BalanceChanged.new(
            BalanceChangedData(
                creator_id=creator_id,
                currency=currency,
                journal_entry_id=str(entry_id),
                available_minor=balance.available_minor,
                disputed_minor=balance.disputed_minor,
                reserved_minor=balance.reserved_minor,
                debt_minor=balance.debt_minor,
            ),
            producer=PRODUCER,
            creator_id=creator_id,
            cause=cause,
        ),
    )
