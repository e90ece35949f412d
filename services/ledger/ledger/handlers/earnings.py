"""Money coming in and going back: payments, fees, refunds, disputes."""


from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.disputes import (
    DisputeClosed,
    DisputeCreated,
    DisputeFundsData,
    DisputeFundsReinstated,
    DisputeFundsWithdrawn,
)
from contracts.events.payments import PaymentFeeRecorded, PaymentFeeRecordedData, PaymentSucceeded
from contracts.events.refunds import RefundCreated, RefundFailed
from ledger import domain, models, settlement
from ledger.chain import EntryFacts
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
        facts=EntryFacts(payment_id=data.payment_id, fact_amount_minor=data.price_minor),
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
        postings=settlement.charge_settled_postings(_charge_settled(data), data.fee_minor),
        facts=EntryFacts(payment_id=data.payment_id, stripe_balance_transaction_id=data.stripe_balance_transaction_id),
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
        facts=EntryFacts(payment_id=data.payment_id, fact_amount_minor=data.amount_minor),
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
        facts=EntryFacts(payment_id=data.payment_id, fact_amount_minor=data.amount_minor),
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
        facts=EntryFacts(payment_id=data.payment_id, dispute_id=data.dispute_id, fact_amount_minor=data.amount_minor),
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
        postings=settlement.dispute_withdrawn_postings(_dispute_settled(data), data.fee_minor),
        facts=_funds_facts(data),
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
        postings=settlement.dispute_reinstated_postings(_dispute_settled(data), data.fee_minor),
        facts=_funds_facts(data),
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
        # The disputed amount the payment loses for good: none when won.
        facts=EntryFacts(
            payment_id=data.payment_id, dispute_id=data.dispute_id,
            fact_amount_minor=0 if data.outcome == "won" else data.amount_minor,
        ),
    )
    if entry_id is not None:
        await announce_balance(session, data.creator_id, data.currency, entry_id, cause=event)


def _funds_facts(data: DisputeFundsData) -> EntryFacts:
    """One funds event books one Stripe balance transaction (payments announces them one by one)."""
    if len(data.stripe_balance_transaction_ids) != 1:
        raise domain.InvalidAmounts(
            f"a dispute funds movement books one balance transaction, not {data.stripe_balance_transaction_ids}"
        )
    (transaction_id,) = data.stripe_balance_transaction_ids
    return EntryFacts(
        payment_id=data.payment_id, dispute_id=data.dispute_id, stripe_balance_transaction_id=transaction_id
    )


def _charge_settled(data: PaymentFeeRecordedData) -> settlement.Settled:
    """Events from before the settlement fields: the charge settled unconverted (only its fee is booked)."""
    if data.charge_currency is None or data.charge_amount_minor is None or data.settlement_amount_minor is None:
        return settlement.Settled(0, data.currency, 0, data.currency)
    return settlement.Settled(
        data.charge_amount_minor, data.charge_currency, data.settlement_amount_minor, data.currency
    )


def _dispute_settled(data: DisputeFundsData) -> settlement.Settled:
    if data.charge_currency is None or data.charge_amount_minor is None:
        return settlement.Settled(data.amount_minor, data.currency, data.amount_minor, data.currency)
    return settlement.Settled(data.charge_amount_minor, data.charge_currency, data.amount_minor, data.currency)
