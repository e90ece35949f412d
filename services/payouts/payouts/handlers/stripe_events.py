"""The Stripe events payouts applies, all from creators' connected accounts
(Connect): account.updated, payout.paid, payout.failed. Set-based: a run of one
type reads its rows in one statement, decides each event in delivery order in
the domain, and writes each table once; payout.failed still makes its Stripe
call (the transfer's reversal) once per payout it fails."""

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from common import parking
from common.applying import by_stripe_type
from contracts.events.stripe import StripeEventReceived
from payouts import models, state_changes
from payouts.domain import payout_events
from payouts.domain.accounts import updates_kept
from payouts.domain.payout_events import StripePayoutEvent, StripePayoutInFlight
from payouts.handlers.registry import PayoutsApplying, handlers
from payouts.stripe_gateway import account_state

log = logging.getLogger(__name__)


async def on_accounts_updated(events: Sequence[StripeEventReceived], applying: PayoutsApplying) -> None:
    account_ids = [event.data.account or _stripe_object(event).get("id") for event in events]
    stored = await models.account_events_for_update(applying.session, sorted({a for a in account_ids if a}))
    kept = updates_kept(stored, [(a, event.data.created) for a, event in zip(account_ids, events, strict=True)])
    flags = []
    for position, (account_id, event) in enumerate(zip(account_ids, events, strict=True)):
        if account_id not in stored:
            log.info("account.updated for %s, not a creator's payout account; ignored", account_id)
        elif kept.get(account_id) != position:
            log.info("account.updated %s for %s is stale or overtaken in its batch", event.data.stripe_event_id,
                     account_id)
        else:
            state = account_state({**_stripe_object(event), "id": account_id})
            flags.append(models.AccountFlags(
                stripe_account_id=account_id, payouts_enabled=state.payouts_enabled,
                charges_enabled=state.charges_enabled, details_submitted=state.details_submitted,
                requirements=state.requirements, stripe_event_created=event.data.created,
            ))
    await models.store_account_flags(applying.session, flags)


async def on_payouts_paid(events: Sequence[StripeEventReceived], applying: PayoutsApplying) -> None:
    payouts, told = await _stripe_payouts(applying, events)
    with _parked_if_in_flight(events):
        payout_events.payouts_paid(payouts, told, datetime.now(UTC))
    await state_changes.store(applying.session, payouts, events)


async def on_payouts_failed(events: Sequence[StripeEventReceived], applying: PayoutsApplying) -> None:
    payouts, told = await _stripe_payouts(applying, events)
    with _parked_if_in_flight(events):
        failed = payout_events.payouts_failed(payouts, told, datetime.now(UTC))
    gateway = applying.needs.stripe
    for payout in failed:
        # The bank refused: Stripe put the money back on the connected account; the
        # reversal brings it back to the platform. If Stripe fails here the batch
        # fails, nothing is stored, and the retry uses the same idempotency key.
        transfer_id = payout.stripe_transfer_id
        if transfer_id is None:  # adopted from a payout whose approver died before storing it
            transfer_id = await gateway.find_transfer(payout.id)
        assert transfer_id is not None, f"payout {payout.id} was paid out without a transfer"
        reversal_id = await gateway.reverse_transfer(payout_id=payout.id, transfer_id=transfer_id)
        payouts.reversed(payout.id, transfer_id, reversal_id)
    await state_changes.store(applying.session, payouts, events)


def _stripe_object(event: StripeEventReceived) -> dict[str, Any]:
    return event.data.payload.get("data", {}).get("object", {})


async def _stripe_payouts(
    applying: PayoutsApplying, events: Sequence[StripeEventReceived]
) -> tuple[payout_events.Payouts, list[StripePayoutEvent]]:
    """The payouts the events name (by Stripe payout id, or by ours in the
    metadata), locked in one statement, and what each event tells."""
    told = [StripePayoutEvent(_stripe_object(event), event.data.account, event.data.stripe_event_id)
            for event in events]
    rows = await models.payout_rows_for_update(
        applying.session, payout_events.payout_ids(event.ours for event in told),
        sorted({event.stripe_payout.get("id", "") for event in told}),
    )
    return payout_events.Payouts(rows), told


@contextmanager
def _parked_if_in_flight(events: Sequence[StripeEventReceived]) -> Iterator[None]:
    """An event the domain finds waiting for its approver is parked, named for the applier."""
    try:
        yield
    except StripePayoutInFlight as wait:
        raise parking.NotReady(f"stripe_payout:{wait.payout_id}", event_id=events[wait.cause].event_id) from wait


# Payouts acts on connected accounts' events only, each type set-based.
handlers.on(StripeEventReceived)(by_stripe_type({
    "account.updated": on_accounts_updated,
    "payout.paid": on_payouts_paid,
    "payout.failed": on_payouts_failed,
}, connect=True))
