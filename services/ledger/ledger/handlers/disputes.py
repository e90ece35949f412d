"""Disputes, set-based: an opening freezes the creator's share of the disputed
amount (ledger.domain.movements), a close gives it back (won) or lets it go (lost);
the funds the network takes and gives back, with Stripe's fees, are booked once
per Stripe balance transaction."""

from collections.abc import Sequence

from contracts.events.disputes import (
    DisputeClosed,
    DisputeCreated,
    DisputeData,
    DisputeFundsData,
    DisputeFundsReinstated,
    DisputeFundsWithdrawn,
)
from ledger import domain, models
from ledger.domain import movements, settlement
from ledger.domain.chain import EntryFacts
from ledger.handlers.registry import LedgerApplying, handlers, post_entries
from ledger.handlers.takebacks import apply_movements


@handlers.on(DisputeCreated)
async def on_dispute_created(events: Sequence[DisputeCreated], applying: LedgerApplying) -> None:
    await apply_movements(applying, events, [_dispute(event.data) for event in events], movements.disputes_opened)


@handlers.on(DisputeClosed)
async def on_dispute_closed(events: Sequence[DisputeClosed], applying: LedgerApplying) -> None:
    closes = [
        movements.DisputeClose(**_about(event.data), won=event.data.outcome == "won") for event in events
    ]
    await apply_movements(applying, events, closes, movements.disputes_closed)


def _dispute(data: DisputeData) -> movements.Dispute:
    return movements.Dispute(**_about(data))


def _about(data: DisputeData) -> dict:
    return dict(payment_id=data.payment_id, creator_id=data.creator_id, currency=data.currency,
                dispute_id=data.dispute_id, amount_minor=data.amount_minor)


@handlers.on(DisputeFundsWithdrawn)
async def on_dispute_funds_withdrawn(events: Sequence[DisputeFundsWithdrawn], applying: LedgerApplying) -> None:
    """Platform money only (the creator's share moves with the opening and the
    close): the batch's entries posted together; a balance transaction booked
    before, or earlier in the batch, posts nothing."""
    await post_entries(applying, [
        _funds_entry(event, "dispute_funds_withdrawn",
                     settlement.dispute_withdrawn_postings(_dispute_settled(event.data), event.data.fee_minor))
        for event in events
    ])


@handlers.on(DisputeFundsReinstated)
async def on_dispute_funds_reinstated(events: Sequence[DisputeFundsReinstated], applying: LedgerApplying) -> None:
    """As funds withdrawn, the other way."""
    await post_entries(applying, [
        _funds_entry(event, "dispute_funds_reinstated",
                     settlement.dispute_reinstated_postings(_dispute_settled(event.data), event.data.fee_minor))
        for event in events
    ])


def _funds_entry(event: DisputeFundsWithdrawn | DisputeFundsReinstated, kind: str,
                 postings: list[domain.Posting]) -> models.NewEntry:
    """One funds event books one Stripe balance transaction (payments announces them one by one)."""
    data = event.data
    return models.NewEntry(
        cause_event_id=event.event_id, kind=kind, creator_id=data.creator_id,
        reference=_balance_transaction_reference(data), postings=postings,
        facts=EntryFacts(payment_id=data.payment_id, dispute_id=data.dispute_id,
                         stripe_balance_transaction_id=data.balance_transaction_id),
    )


def _balance_transaction_reference(data: DisputeFundsData) -> str:
    """Each Stripe balance transaction is booked once, by its id: a dispute has
    several (the withdrawal with its fee, a counter fee, the reinstatement)."""
    transaction_id = data.balance_transaction_id
    if transaction_id is None:
        raise domain.InvalidAmounts(f"dispute {data.dispute_id}: a funds movement names no one balance transaction")
    return f"balance_transaction:{transaction_id}"


def _dispute_settled(data: DisputeFundsData) -> settlement.Settled:
    if data.charge_currency is None or data.charge_amount_minor is None:
        return settlement.Settled(data.amount_minor, data.currency, data.amount_minor, data.currency)
    return settlement.Settled(data.charge_amount_minor, data.charge_currency, data.amount_minor, data.currency)
