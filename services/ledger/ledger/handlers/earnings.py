"""Money coming in and going back: payments, fees, refunds, disputes."""


from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.disputes import DisputeClosed, DisputeCreated, DisputeFundsReinstated, DisputeFundsWithdrawn
from contracts.events.payments import PaymentFeeRecorded, PaymentSucceeded
from contracts.events.refunds import RefundCreated, RefundFailed
from ledger import domain, models
from ledger.handlers.registry import announce_balance, on, post_creator_entry, require_posted


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
    await require_posted(session, "payment", f"payment:{data.payment_id}", event)
    await models.lock_creator(session, data.creator_id)
    available = (await models.creator_balance(session, data.creator_id, data.currency)).available_minor
    postings = domain.refund_postings(
        data.creator_id, data.amount_minor, data.creator_clawback_minor, available, data.currency
    )
    await post_creator_entry(
        session, event, kind="refund", creator_id=data.creator_id, currency=data.currency,
        cause=("refund", data.refund_id), postings=postings,
    )


@on(RefundFailed)
async def on_refund_failed(event: RefundFailed, session: AsyncSession) -> None:
    data = event.data
    if not data.was_succeeded:
        return  # never posted, nothing to reverse
    reference = f"refund:{data.refund_id}"
    refund = await require_posted(session, "refund", reference, event)
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
    await require_posted(session, "payment", f"payment:{data.payment_id}", event)
    await models.lock_creator(session, data.creator_id)
    available = (await models.creator_balance(session, data.creator_id, data.currency)).available_minor
    postings = domain.dispute_opened_postings(data.creator_id, data.creator_share_minor, available, data.currency)
    await post_creator_entry(
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
    opened = await require_posted(session, "dispute_opened", reference, event)
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
