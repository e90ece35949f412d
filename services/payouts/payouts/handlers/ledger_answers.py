"""The ledger's answers to a payout request: the funds reserved, or refused."""

from datetime import UTC, datetime

from common.applying import one_at_a_time
from contracts.events.payouts import PayoutFundsRejected, PayoutFundsReserved
from payouts import state_changes
from payouts.domain.audit import SYSTEM
from payouts.domain.transitions import Move, Stage, funds_rejection_trigger, funds_reserved_trigger
from payouts.handlers.registry import PayoutsApplying, handlers, payout_for_update


@handlers.on(PayoutFundsReserved)
@one_at_a_time
async def on_payout_funds_reserved(event: PayoutFundsReserved, applying: PayoutsApplying) -> None:
    data = event.data
    payout = await payout_for_update(applying.session, data.payout_id)
    net = data.net_minor if data.net_minor is not None else data.amount_minor - data.debt_deducted_minor
    outcome = state_changes.decide(payout, funds_reserved_trigger(net))
    if not isinstance(outcome, Move):
        return
    payout.gross_minor = data.amount_minor
    payout.debt_deducted_minor = data.debt_deducted_minor
    payout.net_minor = net
    payout.funds_reserved = True
    if outcome.to is Stage.PAID:
        # Everything went to the creator's debt: settled without any Stripe call.
        payout.paid_at = datetime.now(UTC)
    await state_changes.move(
        applying.session, payout, outcome, SYSTEM,
        reason="settled_by_debt" if outcome.to is Stage.PAID else None,
        metadata={"deductions": [d.model_dump() for d in data.deductions]}, cause=event,
    )


@handlers.on(PayoutFundsRejected)
@one_at_a_time
async def on_payout_funds_rejected(event: PayoutFundsRejected, applying: PayoutsApplying) -> None:
    data = event.data
    payout = await payout_for_update(applying.session, data.payout_id)
    outcome = state_changes.decide(payout, funds_rejection_trigger(data.reason))
    if not isinstance(outcome, Move):
        return
    payout.reason = data.reason
    payout.reason_detail = data.detail
    await state_changes.move(
        applying.session, payout, outcome, SYSTEM, reason=data.reason,
        metadata={"detail": data.detail, "available_minor": data.available_minor, "debt_minor": data.debt_minor},
        cause=event,
    )
