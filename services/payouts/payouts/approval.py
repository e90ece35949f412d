"""An admin's approval and the Stripe steps that follow it.

The decision is committed first (row locked, state re-checked, APPROVED,
audited, announced); the Stripe calls run outside any database transaction,
each with an idempotency key derived from the payout id; then PROCESSING is
committed with Stripe's ids. A Stripe error leaves the payout APPROVED with the
error recorded; approving again repeats the steps with the same keys, so Stripe
never makes a second transfer or payout. Before creating a transfer, the one
already made for the payout is looked up at Stripe (its transfer group): keys
expire after 24 h, the transfer does not.

An approver that died between steps leaves the payout APPROVED with its claim;
once the claim is stale, `resume_stalled` (a background loop) repeats the steps.
A payout Stripe will never pay out (no bank account, ...) is voided by an admin:
the transfer is reversed and the payout FAILS, so the ledger releases the funds.
"""

import asyncio
import logging
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from common.db import Database
from common.http import Identity
from common.stripe_api import StripeCallFailed
from payouts import models, state_changes
from payouts.domain.accounts import check_account_ready
from payouts.domain.approval import (
    STALE_STRIPE_CLAIM,
    check_reason,
    check_separation_of_duties,
    may_resume,
    stalled,
)
from payouts.domain.audit import SYSTEM, Actor
from payouts.domain.errors import ApprovalInProgress, PayoutNotFound
from payouts.domain.transitions import Move, Resume, State, Trigger, decide_for
from payouts.models import Payout
from payouts.stripe_gateway import StripeGateway

log = logging.getLogger(__name__)


async def approve_payout(db: Database, gateway: StripeGateway, payout_id: uuid.UUID, admin: Identity) -> Payout:
    async with db.transaction() as session:
        # The row lock serializes concurrent approvals (and a racing cancel): each
        # re-reads the state under it, so only the first one moves the payout.
        payout = await models.get_payout_for_update(session, payout_id)
        if payout is None:
            raise PayoutNotFound(f"no payout {payout_id}")
        check_separation_of_duties(admin.user_id, payout.creator_id, payout.requested_by)
        outcome = decide_for(payout, Trigger.APPROVE)
        now = datetime.now(UTC)
        if isinstance(outcome, Resume) and not may_resume(payout.stripe_claimed_at, now):
            raise ApprovalInProgress(f"payout {payout_id} is being sent to Stripe")
        if isinstance(outcome, Move):
            account = check_account_ready(await models.get_account(session, payout.creator_id))
            payout.approved_by = admin.user_id
            payout.stripe_account_id = account.stripe_account_id
            await state_changes.move(session, payout, outcome, Actor(admin.user_id, "admin"))
        payout.stripe_claimed_at = now
    return await _submit_to_stripe(db, gateway, payout)


async def _submit_to_stripe(db: Database, gateway: StripeGateway, payout: Payout) -> Payout:
    assert payout.net_minor is not None and payout.stripe_account_id is not None
    try:
        transfer_id = payout.stripe_transfer_id
        if transfer_id is None:
            transfer_id = await gateway.find_transfer(payout.id) or await gateway.create_transfer(
                payout_id=payout.id, amount_minor=payout.net_minor, currency=payout.currency,
                destination=payout.stripe_account_id,
            )
            # Kept at once: idempotency keys expire after 24 h at Stripe, the id does not.
            async with db.transaction() as session:
                locked = await models.get_payout_for_update(session, payout.id)
                locked.stripe_transfer_id = transfer_id
        stripe_payout_id = await gateway.create_payout(
            payout_id=payout.id, amount_minor=payout.net_minor, currency=payout.currency,
            account_id=payout.stripe_account_id,
        )
    except StripeCallFailed as error:
        log.warning("stripe refused payout %s: %s (%s); it stays APPROVED", payout.id, error, error.code)
        await _record_stripe_error(db, payout.id, error)  # an admin may approve again to retry, or void
        raise
    async with db.transaction() as session:
        locked = await models.get_payout_for_update(session, payout.id)
        outcome = decide_for(locked, Trigger.STRIPE_SUBMITTED)
        if isinstance(outcome, Move):
            locked.stripe_transfer_id = transfer_id
            locked.stripe_payout_id = stripe_payout_id
            locked.stripe_error_code = locked.stripe_error_message = None
            locked.stripe_claimed_at = None
            await state_changes.move(
                session, locked, outcome, SYSTEM,
                metadata={"stripe_account_id": locked.stripe_account_id},
            )
    return locked


async def _record_stripe_error(db: Database, payout_id: uuid.UUID, error: StripeCallFailed) -> None:
    async with db.transaction() as session:
        locked = await models.get_payout_for_update(session, payout_id)
        locked.stripe_error_code = error.code
        locked.stripe_error_message = error.public_detail
        locked.stripe_claimed_at = None


async def resume_stalled(db: Database, gateway: StripeGateway, now: datetime | None = None) -> list[uuid.UUID]:
    """Repeat the Stripe steps of every APPROVED payout whose approver died
    mid-way (claim stale); the ids resumed, whether Stripe then took them or not."""
    now = now or datetime.now(UTC)
    async with db.transaction() as session:
        candidates = list(await session.scalars(
            sa.select(Payout.id).where(Payout.state == State.APPROVED,
                                       Payout.stripe_claimed_at < now - STALE_STRIPE_CLAIM)
        ))
    resumed = []
    for payout_id in candidates:
        async with db.transaction() as session:
            payout = await models.get_payout_for_update(session, payout_id)
            # Re-checked under the lock: an admin's approve or void may have come first.
            if payout.state != State.APPROVED or not stalled(payout.stripe_claimed_at, now):
                continue
            log.warning("payout %s: its approver stopped mid-way (claimed %s); resuming", payout_id,
                        payout.stripe_claimed_at)
            payout.stripe_claimed_at = now
        resumed.append(payout_id)
        try:
            await _submit_to_stripe(db, gateway, payout)
        except StripeCallFailed:
            pass  # recorded on the payout for admins; it waits for an approve or a void
    return resumed


async def resume_stalled_forever(db: Database, gateway: StripeGateway, every_seconds: float) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await resume_stalled(db, gateway)
        except Exception:  # noqa: BLE001 - the database or Stripe may be away; try again later
            log.exception("resuming stalled payouts failed")


async def void_payout(
    db: Database, gateway: StripeGateway, payout_id: uuid.UUID, admin: Identity, reason: str | None
) -> Payout:
    """APPROVED -> FAILED for a payout Stripe will not pay out: the transfer (if one
    was made, stored or found at Stripe) is reversed first, with its idempotency
    key; only then is the failure committed, audited and announced, and the
    ledger releases the reservation on `payout.failed`. A Stripe error leaves it
    APPROVED with the error recorded: voiding again retries."""
    reason = check_reason(reason)
    async with db.transaction() as session:
        payout = await models.get_payout_for_update(session, payout_id)
        if payout is None:
            raise PayoutNotFound(f"no payout {payout_id}")
        decide_for(payout, Trigger.VOID)  # a refusal is raised
        now = datetime.now(UTC)
        if not may_resume(payout.stripe_claimed_at, now):
            raise ApprovalInProgress(f"payout {payout_id} is being sent to Stripe")
        payout.stripe_claimed_at = now  # no approve starts the Stripe steps while we reverse
    try:
        transfer_id = payout.stripe_transfer_id or await gateway.find_transfer(payout.id)
        reversal_id = None  # no transfer was ever made: nothing to take back
        if transfer_id is not None:
            reversal_id = await gateway.reverse_transfer(payout_id=payout.id, transfer_id=transfer_id)
    except StripeCallFailed as error:
        log.warning("voiding payout %s: stripe refused the reversal: %s (%s)", payout.id, error, error.code)
        await _record_stripe_error(db, payout.id, error)
        raise
    async with db.transaction() as session:
        locked = await models.get_payout_for_update(session, payout.id)
        outcome = decide_for(locked, Trigger.VOID)
        assert isinstance(outcome, Move)  # our claim kept everyone else away
        locked.stripe_transfer_id = transfer_id
        locked.stripe_reversal_id = reversal_id
        locked.failure_code = locked.stripe_error_code or "voided"
        locked.failure_message = reason
        locked.reason = reason
        locked.stripe_claimed_at = None
        await state_changes.move(
            session, locked, outcome, Actor(admin.user_id, "admin"), reason=reason,
            metadata={"voided": True, "stripe_reversal_id": reversal_id, "stripe_error_code": locked.stripe_error_code},
        )
    return locked
