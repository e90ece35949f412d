"""The events the ledger applies. Each runs inside the consumer's transaction,
after the inbox has claimed the event id (see common.consumers).

Entries that read a creator's balance first take the creator's lock
(models.lock_creator), so the `available` a shortfall is computed from is the
one the entry lands on.
"""

import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from common import outbox, parking
from common.consumers import EventHandlers, PermanentError
from contracts.envelope import Event
from contracts.events.debts import DebtCreated, DebtCreatedData
from contracts.events.disputes import DisputeClosed, DisputeCreated, DisputeFundsReinstated, DisputeFundsWithdrawn
from contracts.events.ledger import BalanceChanged, BalanceChangedData
from contracts.events.payments import PaymentFeeRecorded, PaymentSucceeded
from contracts.events.refunds import RefundCreated, RefundFailed
from ledger import domain, models

PRODUCER = "ledger"

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
