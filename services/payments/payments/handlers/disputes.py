"""The `charge.dispute.*` Stripe events. Each carries the whole Dispute object and
is applied as a snapshot of it (see payments.domain.disputes), so one handler serves
every dispute event type, in any order and any number of times.

Runs inside the consumer's transaction, after the inbox claimed the event: the
payment row is locked first (refunds and other disputes of the same payment move
its taken-back total too), then the dispute row. The events it implies go into
the outbox in lifecycle order, keyed by the creator, so they leave in that order.
"""

import logging
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from common import outbox, parking
from common.applying import PermanentError
from contracts.events.disputes import (
    DisputeClosed,
    DisputeClosedData,
    DisputeCreated,
    DisputeData,
    DisputeFundsData,
    DisputeFundsReinstated,
    DisputeFundsWithdrawn,
    DisputeUpdated,
)
from contracts.events.stripe import StripeEventReceived
from payments import models
from payments.domain import disputes
from payments.domain.payments import PaymentStatus
from payments.handlers.needs import PRODUCER, PaymentsApplying
from payments.handlers.stripe_objects import object_id
from payments.models import Dispute, Payment

log = logging.getLogger(__name__)


async def on_charge_dispute(event: StripeEventReceived, applying: PaymentsApplying) -> None:
    session = applying.session
    obj = event.data.payload.get("data", {}).get("object")
    if not isinstance(obj, dict):
        raise PermanentError(f"Stripe event {event.data.stripe_event_id} has no data.object")
    try:
        seen = disputes.snapshot_from_stripe(obj, observed_at=event.data.created)
    except disputes.DisputeError as error:
        raise PermanentError(f"Stripe event {event.data.stripe_event_id}: {error}") from error

    payment = await _find_payment(session, obj)
    if payment is None:
        log.info("ignoring dispute %s: its charge is not one of our payments", seen.stripe_dispute_id)
        return
    if payment.status != PaymentStatus.SUCCEEDED:
        # Its success is on another partition (Stripe events are keyed by object
        # id): the dispute waits parked until payment_intent.succeeded is applied.
        raise parking.NotReady(waits_for=models.payment_succeeded_key(payment.id))
    if seen.currency != payment.currency:
        raise PermanentError(
            f"dispute {seen.stripe_dispute_id} in {seen.currency} on payment {payment.id} in {payment.currency}"
        )

    row = await models.get_dispute_by_stripe_id_for_update(session, seen.stripe_dispute_id)
    share = disputes.PaymentShare(payment.price_minor, payment.creator_share_minor, payment.taken_back_minor)
    try:
        step = disputes.apply(_to_domain(row) if row else None, seen, share)
    except disputes.DisputeError as error:
        raise PermanentError(f"Stripe event {event.data.stripe_event_id}: {error}") from error

    if row is None:
        row = Dispute(id=uuid.uuid4(), payment_id=payment.id, creator_id=payment.creator_id)
        session.add(row)
    _store(row, step.dispute)
    payment.taken_back_minor = step.taken_back_minor
    for emit in step.emits:
        await outbox.add(session, _announcement(emit, row, payment, event))
    if step.emits:
        log.info("dispute %s: %s", seen.stripe_dispute_id, ", ".join(e.kind for e in step.emits))


async def _find_payment(session: AsyncSession, obj: dict[str, Any]) -> Payment | None:
    """By PaymentIntent (present on current API versions), else by charge; row-locked."""
    intent = object_id(obj.get("payment_intent"))
    if intent is not None:
        payment = await models.get_payment_by_intent_for_update(session, intent)
        if payment is not None:
            return payment
    charge = object_id(obj.get("charge"))
    return await models.get_payment_by_charge_for_update(session, charge) if charge else None


def _to_domain(row: Dispute) -> disputes.Dispute:
    return disputes.Dispute(
        stripe_dispute_id=row.stripe_dispute_id,
        amount_minor=row.amount_minor,
        currency=row.currency,
        status=row.status,
        reason=row.reason,
        evidence_due_by=row.evidence_due_by,
        observed_at=row.observed_at,
        creator_share_minor=row.creator_share_minor,
        taken_back_minor=row.taken_back_minor,
        balance_transaction_ids=frozenset(row.balance_transaction_ids),
        closed=row.closed,
        outcome=row.outcome,  # type: ignore[arg-type] - the table's check keeps it to won | lost
    )


def _store(row: Dispute, dispute: disputes.Dispute) -> None:
    row.stripe_dispute_id = dispute.stripe_dispute_id
    row.amount_minor = dispute.amount_minor
    row.currency = dispute.currency
    row.status = dispute.status
    row.reason = dispute.reason
    row.evidence_due_by = dispute.evidence_due_by
    row.observed_at = dispute.observed_at
    row.creator_share_minor = dispute.creator_share_minor
    row.taken_back_minor = dispute.taken_back_minor
    row.balance_transaction_ids = sorted(dispute.balance_transaction_ids)
    row.closed = dispute.closed
    row.outcome = dispute.outcome


def _announcement(
    emit: disputes.Emit, row: Dispute, payment: Payment, cause: StripeEventReceived
) -> DisputeCreated | DisputeUpdated | DisputeClosed | DisputeFundsWithdrawn | DisputeFundsReinstated:
    new = {"producer": PRODUCER, "creator_id": payment.creator_id, "cause": cause}
    if emit.balance_transaction is not None:
        transaction = emit.balance_transaction
        funds = DisputeFundsData(
            dispute_id=str(row.id),
            payment_id=str(payment.id),
            creator_id=payment.creator_id,
            amount_minor=transaction.moved_minor,
            fee_minor=transaction.fee_moved_minor,
            currency=transaction.currency,
            stripe_balance_transaction_id=transaction.id,
            stripe_balance_transaction_ids=[transaction.id],
            charge_amount_minor=transaction.moved_in_dispute_currency(row.amount_minor, row.currency),
            charge_currency=row.currency,
            exchange_rate=transaction.exchange_rate,
        )
        model = DisputeFundsWithdrawn if emit.kind == "funds_withdrawn" else DisputeFundsReinstated
        return model.new(funds, **new)
    assert row.creator_share_minor is not None  # only an announced dispute emits
    data = {
        "dispute_id": str(row.id),
        "stripe_dispute_id": row.stripe_dispute_id,
        "payment_id": str(payment.id),
        "creator_id": payment.creator_id,
        "amount_minor": row.amount_minor,
        "currency": row.currency,
        "creator_share_minor": row.creator_share_minor,
        "status": row.status,
        "reason": row.reason,
        "evidence_due_by": row.evidence_due_by,
    }
    if emit.kind == "created":
        return DisputeCreated.new(DisputeData(**data), **new)
    if emit.kind == "updated":
        return DisputeUpdated.new(DisputeData(**data), **new)
    assert row.outcome is not None
    return DisputeClosed.new(DisputeClosedData(**data, outcome=row.outcome), **new)
