"""Money coming in: payments and their charges' fees, both one per payment and
both set-based (the hot path). What goes back (refunds, disputes) is in
refunds.py and disputes.py.
"""

from collections.abc import Sequence

from common import outbox
from contracts.events.payments import PaymentFeeRecorded, PaymentFeeRecordedData, PaymentSucceeded
from ledger import domain, models
from ledger.domain import entitlement, settlement
from ledger.domain.chain import EntryFacts
from ledger.handlers.registry import LedgerApplying, balance_changed, handlers, post_entries


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


def _charge_settled(data: PaymentFeeRecordedData) -> settlement.Settled:
    """Events from before the settlement fields: the charge settled unconverted (only its fee is booked)."""
    if data.charge_currency is None or data.charge_amount_minor is None or data.settlement_amount_minor is None:
        return settlement.Settled(0, data.currency, 0, data.currency)
    return settlement.Settled(
        data.charge_amount_minor, data.charge_currency, data.settlement_amount_minor, data.currency
    )
