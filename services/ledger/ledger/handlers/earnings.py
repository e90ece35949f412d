"""Money coming in and going back: payments, fees, refunds, disputes.

What a refund or a dispute moves for the creator is never taken from the event:
each movement changes the payment's totals (models.PaymentTakeback rows under
the lock of its models.PaymentTerms) and posts the difference of the creator's
entitlement before and after (ledger.entitlement), so any order of the same
facts ends at the same balance. Payments' own figures (`creator_clawback_minor`,
`creator_share_minor`) are what it saw in its order; the ledger's are the same
once every fact is in.
"""

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from common import outbox
from common.applying import one_at_a_time
from contracts.events.disputes import (
    DisputeClosed,
    DisputeCreated,
    DisputeFundsData,
    DisputeFundsReinstated,
    DisputeFundsWithdrawn,
)
from contracts.events.payments import PaymentFeeRecorded, PaymentFeeRecordedData, PaymentSucceeded
from contracts.events.refunds import RefundCreated, RefundCreatedData, RefundFailed, RefundFailedData
from ledger import domain, entitlement, models, settlement
from ledger.chain import EntryFacts
from ledger.handlers.registry import (
    LedgerApplying,
    announce_balance,
    balance_changed,
    handlers,
    post_creator_entry,
    post_entries,
    post_entry,
    require_posted,
)


@handlers.on(PaymentSucceeded)
async def on_payment_succeeded(events: Sequence[PaymentSucceeded], applying: LedgerApplying) -> None:
    """The hottest path, set-based: a batch's payments are posted, their terms
    written and their balances announced in a number of statements that does not
    grow with the batch; per payment only pure work on rows already read. A
    payment already posted (under another event id, or earlier in the batch)
    posts nothing. One with impossible amounts fails the batch before any
    statement: the consumer redoes the batch record by record and dead-letters it alone."""
    session = applying.session
    for event in events:
        entitlement.PaymentTotals(event.data.price_minor, event.data.creator_share_minor)  # refuses impossible amounts
    creators = {event.data.creator_id for event in events}
    # The creators' locks (after the chain's) before their balances are read:
    # the balances announced are the ones the entries land on.
    await models.lock_creators(session, creators)
    before = await models.creator_account_sums(session, creators)
    # A payment while in debt still credits `available`: debt is deducted at payout time.
    entries = [_payment_entry(event) for event in events]
    posted = await post_entries(applying, entries)
    paid = [(event, entry) for event, entry in zip(events, entries, strict=True) if event.event_id in posted]
    await models.add_payment_terms(session, [
        models.NewPaymentTerms(event.data.payment_id, event.data.creator_id, event.data.currency,
                               event.data.price_minor, event.data.creator_share_minor)
        for event, _ in paid
    ])
    balances = domain.balances_after_each(
        before, [(event.data.creator_id, event.data.currency, entry.postings) for event, entry in paid]
    )
    await outbox.add_many(session, [
        balance_changed(event.data.creator_id, balance, posted[event.event_id], cause=event)
        for (event, _), balance in zip(paid, balances, strict=True)
    ])


def _payment_entry(event: PaymentSucceeded) -> models.NewEntry:
    data = event.data
    return models.NewEntry(
        cause_event_id=event.event_id,
        kind="payment",
        creator_id=data.creator_id,
        reference=f"payment:{data.payment_id}",
        postings=domain.payment_postings(data.creator_id, data.price_minor, data.creator_share_minor, data.currency),
        facts=EntryFacts(payment_id=data.payment_id, fact_amount_minor=data.price_minor),
    )


@handlers.on(PaymentFeeRecorded)
async def on_payment_fee_recorded(events: Sequence[PaymentFeeRecorded], applying: LedgerApplying) -> None:
    """One per payment (its charge's balance transaction), so set-based like the
    payment: the batch's fee entries are posted together (post_entries); a fee
    already booked, before or earlier in the batch, posts nothing."""
    await post_entries(applying, [
        models.NewEntry(
            cause_event_id=event.event_id,
            kind="processing_fee",
            creator_id=event.data.creator_id,
            reference=f"payment:{event.data.payment_id}",
            postings=settlement.charge_settled_postings(_charge_settled(event.data), event.data.fee_minor),
            facts=EntryFacts(payment_id=event.data.payment_id,
                             stripe_balance_transaction_id=event.data.stripe_balance_transaction_id),
        )
        for event in events
    ])


async def _payment_totals(
    session: AsyncSession, payment_id: str, creator_id: str, currency: str
) -> entitlement.PaymentTotals:
    """The payment's totals, its terms locked until the movement is posted."""
    found = await models.payment_totals_for_update(session, payment_id)
    if found is None:
        raise domain.InvalidAmounts(f"payment {payment_id} is posted but has no terms (posted before they existed)")
    terms, totals = found
    if (terms.creator_id, terms.currency) != (creator_id, currency):
        raise domain.InvalidAmounts(
            f"payment {payment_id} is {terms.creator_id}'s in {terms.currency}, not {creator_id}'s in {currency}"
        )
    return totals


@handlers.on(RefundCreated)
@one_at_a_time
async def on_refund_created(event: RefundCreated, applying: LedgerApplying) -> None:
    session = applying.session
    data = event.data
    await require_posted(session, "payment", f"payment:{data.payment_id}", event)
    await models.lock_creator(session, data.creator_id)
    reference = f"refund:{data.refund_id}"
    if await models.get_takeback_for_update(session, reference) is not None:
        return  # the same refund announced twice
    before = await _payment_totals(session, data.payment_id, data.creator_id, data.currency)
    after = replace(before, refunded_minor=before.refunded_minor + data.amount_minor)
    change = entitlement.entitlement_change(before, after)
    available = (await models.creator_balance(session, data.creator_id, data.currency)).available_minor
    postings = domain.refund_postings(
        data.creator_id, data.amount_minor, change.entitled_minor, change.frozen_minor, available, data.currency,
        stripe_side=settlement.refund_stripe_side(_refund_settled(data)),
    )
    models.add_takeback(session, reference=reference, payment_id=data.payment_id, kind=entitlement.REFUND,
                        amount_minor=data.amount_minor, status=entitlement.REFUNDED)
    await post_creator_entry(
        applying, event, kind="refund", creator_id=data.creator_id, currency=data.currency,
        cause=("refund", data.refund_id), postings=postings,
        facts=EntryFacts(payment_id=data.payment_id, fact_amount_minor=data.amount_minor,
                         stripe_balance_transaction_id=data.balance_transaction_id),
    )


@handlers.on(RefundFailed)
@one_at_a_time
async def on_refund_failed(event: RefundFailed, applying: LedgerApplying) -> None:
    session = applying.session
    data = event.data
    if not data.was_succeeded:
        return  # never posted, nothing to reverse
    reference = f"refund:{data.refund_id}"
    await require_posted(session, "refund", reference, event)
    await models.lock_creator(session, data.creator_id)
    refund = await models.get_takeback_for_update(session, reference)
    if refund is None:
        raise domain.InvalidAmounts(f"refund {data.refund_id} is posted but not counted (posted before takebacks)")
    if refund.status != entitlement.REFUNDED:
        return  # the same failure announced twice
    before = await _payment_totals(session, data.payment_id, data.creator_id, data.currency)
    after = replace(before, refunded_minor=before.refunded_minor - refund.amount_minor)
    change = entitlement.entitlement_change(before, after)
    debt = await models.get_debt_for_update(session, "refund", data.refund_id)
    postings = domain.refund_reversal_postings(
        data.creator_id, refund.amount_minor, change.entitled_minor, change.frozen_minor,
        debt.remaining_minor if debt else 0, data.currency,
        stripe_side=settlement.refund_failure_stripe_side(_refund_settled(data)),
    )
    entry_id = await post_entry(
        applying,
        cause_event_id=event.event_id,
        kind="refund_reversal",
        creator_id=data.creator_id,
        reference=reference,
        postings=postings,
        facts=EntryFacts(payment_id=data.payment_id, fact_amount_minor=data.amount_minor,
                         stripe_balance_transaction_id=data.balance_transaction_id),
    )
    if entry_id is None:
        return
    models.set_takeback_status(refund, entitlement.REFUND_FAILED)
    if debt is not None:
        cancelled = -domain.debt_posted(data.creator_id, postings)
        models.set_debt_amounts(debt, debt.amounts().reversed(cancelled))
    await announce_balance(session, data.creator_id, data.currency, entry_id, cause=event)


@handlers.on(DisputeCreated)
@one_at_a_time
async def on_dispute_created(event: DisputeCreated, applying: LedgerApplying) -> None:
    session = applying.session
    data = event.data
    await require_posted(session, "payment", f"payment:{data.payment_id}", event)
    await models.lock_creator(session, data.creator_id)
    reference = f"dispute:{data.dispute_id}"
    if await models.get_takeback_for_update(session, reference) is not None:
        return  # the same dispute announced twice
    before = await _payment_totals(session, data.payment_id, data.creator_id, data.currency)
    after = replace(before, disputed_open_minor=before.disputed_open_minor + data.amount_minor)
    change = entitlement.entitlement_change(before, after)
    available = (await models.creator_balance(session, data.creator_id, data.currency)).available_minor
    postings = domain.dispute_opened_postings(
        data.creator_id, change.entitled_minor, change.frozen_minor, available, data.currency
    )
    models.add_takeback(session, reference=reference, payment_id=data.payment_id, kind=entitlement.DISPUTE,
                        amount_minor=data.amount_minor, status=entitlement.DISPUTE_OPEN)
    await post_creator_entry(
        applying, event, kind="dispute_opened", creator_id=data.creator_id, currency=data.currency,
        cause=("dispute", data.dispute_id), postings=postings,
        facts=EntryFacts(payment_id=data.payment_id, dispute_id=data.dispute_id, fact_amount_minor=data.amount_minor),
    )


def _balance_transaction_reference(data: DisputeFundsData) -> str:
    """Each Stripe balance transaction is booked once, by its id: a dispute has
    several (the withdrawal with its fee, a counter fee, the reinstatement)."""
    transaction_id = data.balance_transaction_id
    if transaction_id is None:
        raise domain.InvalidAmounts(f"dispute {data.dispute_id}: a funds movement names no one balance transaction")
    return f"balance_transaction:{transaction_id}"


@handlers.on(DisputeFundsWithdrawn)
@one_at_a_time
async def on_dispute_funds_withdrawn(event: DisputeFundsWithdrawn, applying: LedgerApplying) -> None:
    data = event.data
    await post_entry(
        applying,
        cause_event_id=event.event_id,
        kind="dispute_funds_withdrawn",
        creator_id=data.creator_id,
        reference=_balance_transaction_reference(data),
        postings=settlement.dispute_withdrawn_postings(_dispute_settled(data), data.fee_minor),
        facts=_funds_facts(data),
    )


@handlers.on(DisputeFundsReinstated)
@one_at_a_time
async def on_dispute_funds_reinstated(event: DisputeFundsReinstated, applying: LedgerApplying) -> None:
    data = event.data
    await post_entry(
        applying,
        cause_event_id=event.event_id,
        kind="dispute_funds_reinstated",
        creator_id=data.creator_id,
        reference=_balance_transaction_reference(data),
        postings=settlement.dispute_reinstated_postings(_dispute_settled(data), data.fee_minor),
        facts=_funds_facts(data),
    )


@handlers.on(DisputeClosed)
@one_at_a_time
async def on_dispute_closed(event: DisputeClosed, applying: LedgerApplying) -> None:
    session = applying.session
    data = event.data
    reference = f"dispute:{data.dispute_id}"
    await require_posted(session, "dispute_opened", reference, event)
    await models.lock_creator(session, data.creator_id)
    dispute = await models.get_takeback_for_update(session, reference)
    if dispute is None:
        raise domain.InvalidAmounts(f"dispute {data.dispute_id} is posted but not counted (posted before takebacks)")
    if dispute.status != entitlement.DISPUTE_OPEN:
        return  # one close per dispute: won or lost, never both
    # The amount is the one the opening counted, whatever the closing event says.
    disputed = dispute.amount_minor
    before = await _payment_totals(session, data.payment_id, data.creator_id, data.currency)
    if data.outcome == "won":
        after = replace(before, disputed_open_minor=before.disputed_open_minor - disputed)
        change = entitlement.entitlement_change(before, after)
        postings = domain.dispute_won_postings(data.creator_id, change.entitled_minor, change.frozen_minor,
                                               data.currency)
    else:
        after = replace(before, disputed_open_minor=before.disputed_open_minor - disputed,
                        disputed_lost_minor=before.disputed_lost_minor + disputed)
        change = entitlement.entitlement_change(before, after)
        postings = domain.dispute_lost_postings(data.creator_id, disputed, change.entitled_minor,
                                                change.frozen_minor, data.currency)
    entry_id = await post_entry(
        applying,
        cause_event_id=event.event_id,
        kind="dispute_closed",
        creator_id=data.creator_id,
        reference=reference,
        postings=postings,
        # The disputed amount the payment loses for good: none when won.
        facts=EntryFacts(
            payment_id=data.payment_id, dispute_id=data.dispute_id,
            fact_amount_minor=0 if data.outcome == "won" else disputed,
        ),
    )
    if entry_id is None:
        return
    models.set_takeback_status(dispute, entitlement.DISPUTE_WON if data.outcome == "won" else entitlement.DISPUTE_LOST)
    await announce_balance(session, data.creator_id, data.currency, entry_id, cause=event)


def _funds_facts(data: DisputeFundsData) -> EntryFacts:
    """One funds event books one Stripe balance transaction (payments announces them one by one)."""
    return EntryFacts(payment_id=data.payment_id, dispute_id=data.dispute_id,
                      stripe_balance_transaction_id=data.balance_transaction_id)


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


def _refund_settled(data: RefundCreatedData | RefundFailedData) -> settlement.Settled:
    """Events without the settlement fields (from before them, or with no
    balance transaction named): the refund settled unconverted, in its currency."""
    if data.settlement_currency is None or data.settlement_amount_minor is None:
        return settlement.Settled(data.amount_minor, data.currency, data.amount_minor, data.currency)
    return settlement.Settled(data.amount_minor, data.currency, data.settlement_amount_minor, data.settlement_currency)
