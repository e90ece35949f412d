"""The events payouts applies. Each runs inside the consumer's transaction,
after the inbox has claimed the event id (see common.consumers)."""

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from common import parking
from common.applying import Applying, EventHandlers, PermanentError, by_stripe_type, one_at_a_time
from contracts.events.ledger import BalanceChanged
from contracts.events.payouts import PayoutFundsRejected, PayoutFundsReserved
from contracts.events.stripe import StripeEventReceived
from payouts import domain, models, workflow
from payouts.domain import Move
from payouts.models import Payout
from payouts.stripe_gateway import StripeGateway, account_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Needs:
    """What payouts' handlers need beside their events: Stripe, to take a
    transfer back when the bank refuses a payout."""

    stripe: StripeGateway


PayoutsApplying = Applying[Needs]
handlers: EventHandlers[Needs] = EventHandlers()


@handlers.on(BalanceChanged)
@one_at_a_time
async def on_balance_changed(event: BalanceChanged, applying: PayoutsApplying) -> None:
    if not await models.apply_balance_changed(applying.session, event):
        log.info(
            "ignored stale balance of %s in %s (%s)",
            event.data.creator_id, event.data.currency, event.event_id,
        )


@handlers.on(PayoutFundsReserved)
@one_at_a_time
async def on_payout_funds_reserved(event: PayoutFundsReserved, applying: PayoutsApplying) -> None:
    data = event.data
    payout = await _payout_for_update(applying.session, data.payout_id)
    net = data.net_minor if data.net_minor is not None else data.amount_minor - data.debt_deducted_minor
    outcome = workflow.decide(payout, domain.funds_reserved_trigger(net))
    if not isinstance(outcome, Move):
        return
    payout.gross_minor = data.amount_minor
    payout.debt_deducted_minor = data.debt_deducted_minor
    payout.net_minor = net
    payout.funds_reserved = True
    if outcome.to is domain.Stage.PAID:
        # Everything went to the creator's debt: settled without any Stripe call.
        payout.paid_at = datetime.now(UTC)
    await workflow.move(
        applying.session, payout, outcome, workflow.SYSTEM,
        reason="settled_by_debt" if outcome.to is domain.Stage.PAID else None,
        metadata={"deductions": [d.model_dump() for d in data.deductions]}, cause=event,
    )


@handlers.on(PayoutFundsRejected)
@one_at_a_time
async def on_payout_funds_rejected(event: PayoutFundsRejected, applying: PayoutsApplying) -> None:
    data = event.data
    payout = await _payout_for_update(applying.session, data.payout_id)
    outcome = workflow.decide(payout, domain.funds_rejection_trigger(data.reason))
    if not isinstance(outcome, Move):
        return
    payout.reason = data.reason
    payout.reason_detail = data.detail
    await workflow.move(
        applying.session, payout, outcome, workflow.SYSTEM, reason=data.reason,
        metadata={"detail": data.detail, "available_minor": data.available_minor, "debt_minor": data.debt_minor},
        cause=event,
    )


async def on_account_updated(event: StripeEventReceived, applying: PayoutsApplying) -> None:
    data = event.data
    account = _stripe_object(event)
    await _account_updated(applying.session, data.account or account.get("id"), account, data.created)


async def on_payout_paid(event: StripeEventReceived, applying: PayoutsApplying) -> None:
    await _stripe_payout_paid(applying.session, _stripe_object(event), event)


async def on_payout_failed(event: StripeEventReceived, applying: PayoutsApplying) -> None:
    await _stripe_payout_failed(applying.session, _stripe_object(event), event, applying.needs.stripe)


def _stripe_object(event: StripeEventReceived) -> dict[str, Any]:
    return event.data.payload.get("data", {}).get("object", {})


async def _payout_for_update(session: AsyncSession, payout_id: str) -> Payout:
    try:
        found = await models.get_payout_for_update(session, uuid.UUID(payout_id))
    except ValueError:
        found = None
    if found is None:
        # payout.requested is ours: the ledger cannot answer a payout we never stored.
        raise PermanentError(f"no payout {payout_id}")
    return found


async def _account_updated(session: AsyncSession, account_id: str | None, account: dict[str, Any], created: int) -> None:
    stored = await models.get_account_by_stripe_id_for_update(session, account_id) if account_id else None
    if stored is None:
        log.info("account.updated for %s, not a creator's payout account; ignored", account_id)
        return
    if stored.stripe_event_created is not None and created < stored.stripe_event_created:
        log.info("ignored stale account.updated for %s", account_id)
        return
    state = account_state({**account, "id": account_id})
    stored.payouts_enabled = state.payouts_enabled
    stored.charges_enabled = state.charges_enabled
    stored.details_submitted = state.details_submitted
    stored.requirements = state.requirements
    stored.stripe_event_created = created


async def _stripe_payout(
    session: AsyncSession, stripe_payout: dict[str, Any], event: StripeEventReceived
) -> Payout | None:
    """Our payout for a Stripe payout, locked; None for a payout that is not ours."""
    payout = await models.get_payout_by_stripe_id_for_update(session, stripe_payout.get("id", ""))
    if payout is not None:
        return payout
    ours = (stripe_payout.get("metadata") or {}).get("payout_id")
    if not ours:
        log.info("stripe payout %s is not one of ours; ignored", stripe_payout.get("id"))
        return None
    payout = await _payout_for_update(session, ours)
    action = domain.unrecorded_stripe_payout(payout.state, payout.stripe_payout_id, payout.stripe_claimed_at,
                                             datetime.now(UTC))
    if action is domain.UnrecordedStripePayout.WAIT:
        # The approver is between Stripe's answer and its commit. It is an HTTP
        # request, not a handler, so the parking sweep (every few seconds)
        # retries the event; if the approver died, its claim goes stale and the
        # retry adopts Stripe's id.
        raise parking.NotReady(waits_for=f"stripe_payout:{payout.id}")
    if action is domain.UnrecordedStripePayout.UNEXPECTED:
        raise PermanentError(
            f"stripe payout {stripe_payout.get('id')} names payout {payout.id}, which is {payout.state} "
            f"with stripe payout {payout.stripe_payout_id}"
        )
    await _adopt(session, payout, stripe_payout, event)
    return payout


async def _adopt(
    session: AsyncSession, payout: Payout, stripe_payout: dict[str, Any], event: StripeEventReceived
) -> None:
    """Take the id of the Stripe payout our dead approver made (Stripe's signed
    event names our payout in its metadata): PROCESSING, as the approver would have."""
    account, amount = event.data.account, stripe_payout.get("amount")
    if account != payout.stripe_account_id or isinstance(amount, int) and amount != payout.net_minor:
        raise PermanentError(
            f"stripe payout {stripe_payout.get('id')} ({amount} on {account}) does not match payout {payout.id} "
            f"({payout.net_minor} on {payout.stripe_account_id})"
        )
    outcome = workflow.decide(payout, domain.Trigger.STRIPE_SUBMITTED)
    assert isinstance(outcome, Move)  # APPROVED, checked by unrecorded_stripe_payout
    log.warning("payout %s: adopting stripe payout %s its approver never stored", payout.id, stripe_payout["id"])
    payout.stripe_payout_id = stripe_payout["id"]
    payout.stripe_error_code = payout.stripe_error_message = None
    payout.stripe_claimed_at = None
    await workflow.move(
        session, payout, outcome, workflow.SYSTEM, reason="recovered_from_stripe_event",
        metadata={"stripe_account_id": payout.stripe_account_id, "stripe_event_id": event.data.stripe_event_id},
        cause=event,
    )


async def _stripe_payout_paid(session: AsyncSession, stripe_payout: dict[str, Any], event: StripeEventReceived) -> None:
    payout = await _stripe_payout(session, stripe_payout, event)
    if payout is None:
        return
    outcome = workflow.decide(payout, domain.Trigger.STRIPE_PAID)
    if not isinstance(outcome, Move):
        return
    arrival = stripe_payout.get("arrival_date")
    payout.paid_at = datetime.fromtimestamp(arrival, UTC) if isinstance(arrival, int) else datetime.now(UTC)
    await workflow.move(
        session, payout, outcome, workflow.STRIPE, metadata={"stripe_event_id": event.data.stripe_event_id},
        cause=event,
    )


async def _stripe_payout_failed(
    session: AsyncSession, stripe_payout: dict[str, Any], event: StripeEventReceived, gateway: StripeGateway
) -> None:
    payout = await _stripe_payout(session, stripe_payout, event)
    if payout is None:
        return
    outcome = workflow.decide(payout, domain.Trigger.STRIPE_FAILED)
    if not isinstance(outcome, Move):
        return
    # The bank refused: Stripe put the money back on the connected account; the
    # reversal brings it back to the platform. If Stripe fails here the handler
    # fails, nothing is stored, and the retry uses the same idempotency key.
    if payout.stripe_transfer_id is None:  # adopted from a payout whose approver died before storing it
        payout.stripe_transfer_id = await gateway.find_transfer(payout.id)
    assert payout.stripe_transfer_id is not None, f"payout {payout.id} was paid out without a transfer"
    payout.stripe_reversal_id = await gateway.reverse_transfer(
        payout_id=payout.id, transfer_id=payout.stripe_transfer_id
    )
    payout.failure_code = stripe_payout.get("failure_code")
    payout.failure_message = stripe_payout.get("failure_message")
    await workflow.move(
        session, payout, outcome, workflow.STRIPE, reason=payout.failure_code,
        metadata={"stripe_event_id": event.data.stripe_event_id, "stripe_reversal_id": payout.stripe_reversal_id,
                  "was_paid": payout.paid_at is not None},
        cause=event,
    )


# Payouts acts on connected accounts' events only.
handlers.on(StripeEventReceived)(by_stripe_type({
    "account.updated": on_account_updated,
    "payout.paid": on_payout_paid,
    "payout.failed": on_payout_failed,
}, connect=True))
