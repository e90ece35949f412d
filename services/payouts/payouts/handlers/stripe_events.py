"""The Stripe events payouts applies, all from creators' connected accounts
(Connect): account.updated, payout.paid, payout.failed."""

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from common import parking
from common.applying import PermanentError, by_stripe_type
from contracts.events.stripe import StripeEventReceived
from payouts import models, state_changes
from payouts.domain.approval import UnrecordedStripePayout, unrecorded_stripe_payout
from payouts.domain.audit import STRIPE, SYSTEM
from payouts.domain.transitions import Move, Trigger
from payouts.handlers.registry import PayoutsApplying, handlers, payout_for_update
from payouts.models import Payout
from payouts.stripe_gateway import StripeGateway, account_state

log = logging.getLogger(__name__)


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
    payout = await payout_for_update(session, ours)
    action = unrecorded_stripe_payout(payout.state, payout.stripe_payout_id, payout.stripe_claimed_at,
                                             datetime.now(UTC))
    if action is UnrecordedStripePayout.WAIT:
        # The approver is between Stripe's answer and its commit. It is an HTTP
        # request, not a handler, so the parking sweep (every few seconds)
        # retries the event; if the approver died, its claim goes stale and the
        # retry adopts Stripe's id.
        raise parking.NotReady(waits_for=f"stripe_payout:{payout.id}")
    if action is UnrecordedStripePayout.UNEXPECTED:
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
    outcome = state_changes.decide(payout, Trigger.STRIPE_SUBMITTED)
    assert isinstance(outcome, Move)  # APPROVED, checked by unrecorded_stripe_payout
    log.warning("payout %s: adopting stripe payout %s its approver never stored", payout.id, stripe_payout["id"])
    payout.stripe_payout_id = stripe_payout["id"]
    payout.stripe_error_code = payout.stripe_error_message = None
    payout.stripe_claimed_at = None
    await state_changes.move(
        session, payout, outcome, SYSTEM, reason="recovered_from_stripe_event",
        metadata={"stripe_account_id": payout.stripe_account_id, "stripe_event_id": event.data.stripe_event_id},
        cause=event,
    )


async def _stripe_payout_paid(session: AsyncSession, stripe_payout: dict[str, Any], event: StripeEventReceived) -> None:
    payout = await _stripe_payout(session, stripe_payout, event)
    if payout is None:
        return
    outcome = state_changes.decide(payout, Trigger.STRIPE_PAID)
    if not isinstance(outcome, Move):
        return
    arrival = stripe_payout.get("arrival_date")
    payout.paid_at = datetime.fromtimestamp(arrival, UTC) if isinstance(arrival, int) else datetime.now(UTC)
    await state_changes.move(
        session, payout, outcome, STRIPE, metadata={"stripe_event_id": event.data.stripe_event_id},
        cause=event,
    )


async def _stripe_payout_failed(
    session: AsyncSession, stripe_payout: dict[str, Any], event: StripeEventReceived, gateway: StripeGateway
) -> None:
    payout = await _stripe_payout(session, stripe_payout, event)
    if payout is None:
        return
    outcome = state_changes.decide(payout, Trigger.STRIPE_FAILED)
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
    await state_changes.move(
        session, payout, outcome, STRIPE, reason=payout.failure_code,
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
