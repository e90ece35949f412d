"""The ledger's answers to a payout request: the funds reserved, or refused.
Set-based: a run of answers reads its payouts in one statement, decides each
answer in delivery order in the domain (payout_events), and writes the payouts,
their audit rows and announcements once each."""

from collections.abc import Sequence
from datetime import UTC, datetime

from contracts.events.payouts import PayoutFundsRejected, PayoutFundsReserved
from payouts import models, state_changes
from payouts.domain import payout_events
from payouts.handlers.registry import PayoutsApplying, handlers


@handlers.on(PayoutFundsReserved)
async def on_payout_funds_reserved(events: Sequence[PayoutFundsReserved], applying: PayoutsApplying) -> None:
    payouts = await _answered_payouts(applying, events)
    payout_events.funds_reserved(payouts, [event.data for event in events], datetime.now(UTC))
    await state_changes.store(applying.session, payouts, events)


@handlers.on(PayoutFundsRejected)
async def on_payout_funds_rejected(events: Sequence[PayoutFundsRejected], applying: PayoutsApplying) -> None:
    payouts = await _answered_payouts(applying, events)
    payout_events.funds_rejected(payouts, [event.data for event in events])
    await state_changes.store(applying.session, payouts, events)


async def _answered_payouts(
    applying: PayoutsApplying, events: Sequence[PayoutFundsReserved] | Sequence[PayoutFundsRejected]
) -> payout_events.Payouts:
    ids = payout_events.payout_ids(event.data.payout_id for event in events)
    return payout_events.Payouts(await models.payout_rows_for_update(applying.session, ids, []))
