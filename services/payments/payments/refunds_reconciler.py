"""Refunds stuck PENDING without a Stripe id: our create call failed with a
retryable error (or we died before storing Stripe's answer) and no webhook has
settled them. Until resolved they keep their amount from being refunded.

Every pass, for each such refund older than `stuck_after` (an API call still in
flight is left alone): list the PaymentIntent's refunds at Stripe and look for
ours by the refund id in their metadata (Stripe cannot be asked by idempotency
key). Found: applied as a webhook would be. Not found: created again with the
same idempotency key, until `give_up_after`; past that, or refused for good, it
is FAILED and `refund.failed` tells the admins (its amount is refundable again).
Stripe out of reach: nothing is decided, the next pass tries again.
"""

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa

from common.db import Database
from common.stripe_api import StripeCallFailed
from payments.domain import refunds
from payments.domain.refunds import RefundStatus
from payments.handlers.refunds import apply_answer, fail_unmade_refund
from payments.models import Payment, Refund
from payments.settings import Settings
from payments.stripe_gateway import StripeGateway

log = logging.getLogger(__name__)

# One reconciler at a time across replicas: two passes creating the same refund
# after Stripe forgot its idempotency key (24 h) would refund the fan twice.
RECONCILER_LOCK = 0x5EF0D5

GIVEN_UP = "not_made_at_stripe"  # failure_reason of a refund Stripe never made before the deadline


@dataclass(frozen=True)
class Bounds:
    stuck_after: timedelta  # younger refunds may still have their API call in flight
    give_up_after: timedelta  # from the refund's creation

    @classmethod
    def of(cls, settings: Settings) -> "Bounds":
        return cls(timedelta(seconds=settings.refund_stuck_after_seconds),
                   timedelta(hours=settings.refund_give_up_after_hours))


class Outcome(StrEnum):
    RESOLVED = "resolved"  # found at Stripe or made now: it follows Stripe's status
    FAILED = "failed"  # refused for good, or given up on
    LATER = "later"  # Stripe out of reach or refused for now


@dataclass(frozen=True)
class StuckRefund:
    refund_id: uuid.UUID
    payment_id: uuid.UUID
    payment_intent_id: str
    amount_minor: int
    reason: str | None
    created_at: datetime


def _stuck_query() -> sa.Select:
    return (
        sa.select(Refund, Payment.stripe_payment_intent_id, Payment.creator_id)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Refund.status == RefundStatus.PENDING, Refund.stripe_refund_id.is_(None),
               Refund.requested_by.is_not(None))  # made by our API: only those can lack a Stripe id
        .order_by(Refund.created_at, Refund.id)
    )


async def stuck_refunds(db: Database, older_than: datetime, limit: int) -> list[tuple[Refund, str, str]]:
    """(refund, PaymentIntent id, creator id), oldest first."""
    async with db.transaction() as session:
        rows = await session.execute(_stuck_query().where(Refund.created_at < older_than).limit(limit))
        return [(refund, intent_id, creator_id) for refund, intent_id, creator_id in rows]


async def reconcile(
    db: Database, gateway: StripeGateway, bounds: Bounds, now: datetime | None = None, limit: int = 100
) -> dict[uuid.UUID, Outcome]:
    """One pass; what became of each stuck refund looked at (nothing if another
    replica's pass is running)."""
    now = now or datetime.now(UTC)
    outcomes: dict[uuid.UUID, Outcome] = {}
    async with db.transaction() as guard:
        if not await guard.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(RECONCILER_LOCK))):
            return outcomes
        for refund, intent_id, _ in await stuck_refunds(db, now - bounds.stuck_after, limit):
            stuck = StuckRefund(refund.id, refund.payment_id, intent_id, refund.amount_minor, refund.reason,
                                refund.created_at)
            outcomes[refund.id] = await _reconcile_one(db, gateway, stuck, bounds, now)
            log.info("stuck refund %s of payment %s: %s", refund.id, refund.payment_id, outcomes[refund.id])
    return outcomes


async def _reconcile_one(
    db: Database, gateway: StripeGateway, stuck: StuckRefund, bounds: Bounds, now: datetime
) -> Outcome:
    try:
        made = refunds.refund_made_for(await gateway.list_refunds(stuck.payment_intent_id), stuck.refund_id)
    except StripeCallFailed as error:
        log.warning("stuck refund %s: cannot list its payment's refunds: %s", stuck.refund_id, error)
        return Outcome.LATER
    if made is None and refunds.gives_up(stuck.created_at, now, bounds.give_up_after):
        return await _fail(db, stuck, GIVEN_UP)
    if made is None:
        try:
            made = await gateway.create_refund(
                refund_id=stuck.refund_id, payment_id=stuck.payment_id, payment_intent_id=stuck.payment_intent_id,
                amount_minor=stuck.amount_minor, reason=stuck.reason,
            )
        except StripeCallFailed as error:
            if error.retryable:
                log.warning("stuck refund %s: Stripe still refuses for now: %s", stuck.refund_id, error)
                return Outcome.LATER
            return await _fail(db, stuck, error.code)
    async with db.transaction() as session:
        await apply_answer(session, stuck.refund_id, dict(made), gateway)
    return Outcome.RESOLVED


async def _fail(db: Database, stuck: StuckRefund, reason: str) -> Outcome:
    async with db.transaction() as session:
        await fail_unmade_refund(session, stuck.refund_id, reason)
    return Outcome.FAILED


async def reconcile_forever(db: Database, gateway: StripeGateway, bounds: Bounds, every_seconds: float) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await reconcile(db, gateway, bounds)
        except Exception:  # noqa: BLE001 - the database or Stripe may be away; next pass
            log.exception("reconciling stuck refunds failed")
