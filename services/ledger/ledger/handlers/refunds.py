"""Refunds, set-based: a refund takes back what the creator's entitlement on the
payment loses (ledger.domain.movements), a refund that fails after succeeding gives it
back, cancelling first what is still open of the debt the refund opened."""

from collections.abc import Sequence

from contracts.events.refunds import RefundCreated, RefundCreatedData, RefundFailed, RefundFailedData
from ledger.domain import movements, settlement
from ledger.handlers.registry import LedgerApplying, handlers
from ledger.handlers.takebacks import apply_movements


@handlers.on(RefundCreated)
async def on_refund_created(events: Sequence[RefundCreated], applying: LedgerApplying) -> None:
    await apply_movements(applying, events, [_refund(event.data) for event in events], movements.refunds_created)


@handlers.on(RefundFailed)
async def on_refund_failed(events: Sequence[RefundFailed], applying: LedgerApplying) -> None:
    # A refund that failed before it succeeded was never posted: nothing to reverse.
    failed = [_refund(event.data) if event.data.was_succeeded else None for event in events]
    await apply_movements(applying, events, failed, movements.refunds_failed)


def _refund(data: RefundCreatedData | RefundFailedData) -> movements.Refund:
    return movements.Refund(
        payment_id=data.payment_id, creator_id=data.creator_id, currency=data.currency, refund_id=data.refund_id,
        amount_minor=data.amount_minor, settled=_refund_settled(data),
        balance_transaction_id=data.balance_transaction_id,
    )


def _refund_settled(data: RefundCreatedData | RefundFailedData) -> settlement.Settled:
    """Events without the settlement fields (from before them, or with no
    balance transaction named): the refund settled unconverted, in its currency."""
    if data.settlement_currency is None or data.settlement_amount_minor is None:
        return settlement.Settled(data.amount_minor, data.currency, data.amount_minor, data.currency)
    return settlement.Settled(data.amount_minor, data.currency, data.settlement_amount_minor, data.settlement_currency)
