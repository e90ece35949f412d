"""The `charge.dispute.*` Stripe events. Each carries the whole Dispute object and
is applied as a snapshot of it (see payments.domain.disputes), so one handler serves
every dispute event type, in any order and any number of times.

Set-based: runs inside the consumer's transaction, after the inbox claimed the
events. The payments are row-locked first (refunds and other disputes of the same
payment move its taken-back total too), then the disputes' rows; each snapshot is
folded in delivery order into what the ones before it left (the pure rule), and
the rows are written once per table. The events each one implies go into the
outbox in lifecycle order, keyed by the creator, so they leave in that order.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any

import sqlalchemy as sa
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
from payments.handlers.registry import PRODUCER, PaymentsApplying
from payments.handlers.stripe_objects import object_id
from payments.models import Dispute, Payment
from payments.rows import ColumnsUpdate

log = logging.getLogger(__name__)

_MOVE_TAKEN_BACK = ColumnsUpdate(Payment, "taken_back_minor")
_disputes = Dispute.__table__
_STORED = [field.name for field in fields(disputes.Dispute)]  # a row's columns are the rule's dispute
# Many rows each, as one executemany: a dispute's balance transaction ids are an
# array, which unnest cannot hand over row by row.
_ADD_DISPUTES = sa.insert(_disputes)
_STORE_DISPUTES = sa.update(_disputes).where(_disputes.c.id == sa.bindparam("dispute_id")).values(
    {name: sa.bindparam(f"new_{name}", type_=_disputes.c[name].type) for name in _STORED} | {"updated_at": sa.func.now()})


def _dispute_object(event: StripeEventReceived) -> dict[str, Any]:
    obj = event.data.payload.get("data", {}).get("object")
    if not isinstance(obj, dict):
        raise PermanentError(f"Stripe event {event.data.stripe_event_id} has no data.object")
    return obj


def _snapshot(event: StripeEventReceived, obj: dict[str, Any]) -> disputes.Snapshot:
    try:
        return disputes.snapshot_from_stripe(obj, observed_at=event.data.created)
    except disputes.DisputeError as error:
        raise PermanentError(f"Stripe event {event.data.stripe_event_id}: {error}") from error


async def on_charge_disputes(events: Sequence[StripeEventReceived], applying: PaymentsApplying) -> None:
    session = applying.session
    objects = [_dispute_object(event) for event in events]
    seen = [_snapshot(event, obj) for event, obj in zip(events, objects, strict=True)]
    names = [(object_id(obj.get("payment_intent")), object_id(obj.get("charge"))) for obj in objects]
    payments = await models.get_payments_named_for_update(session, names)
    rows = await models.get_disputes_for_update(session, [snapshot.stripe_dispute_id for snapshot in seen])
    ours = [(event, snapshot, _payment_of(event, snapshot, payments.of(intent_id=intent, charge_id=charge)))
            for event, snapshot, (intent, charge) in zip(events, seen, names, strict=True)]
    ours = [(event, snapshot, payment) for event, snapshot, payment in ours if payment is not None]
    steps: list[disputes.Step] = []
    try:
        for step in disputes.apply_in_order(
            {stripe_id: _to_domain(row) for stripe_id, row in rows.items()},
            [(snapshot, payment.id, disputes.PaymentShare(payment.price_minor, payment.creator_share_minor,
                                                          payment.taken_back_minor))
             for _, snapshot, payment in ours],
        ):
            steps.append(step)
    except disputes.DisputeError as error:
        raise PermanentError(f"Stripe event {ours[len(steps)][0].data.stripe_event_id}: {error}") from error

    ids = {stripe_id: row.id for stripe_id, row in rows.items()}
    latest: dict[uuid.UUID, tuple[disputes.Dispute, Payment]] = {}  # each dispute moved, as its last step left it
    taken_back: dict[Payment, int] = {}
    announcements = []
    for (event, snapshot, payment), step in zip(ours, steps, strict=True):
        dispute_id = ids.setdefault(snapshot.stripe_dispute_id, uuid.uuid4())
        latest[dispute_id], taken_back[payment] = (step.dispute, payment), step.taken_back_minor
        announcements += [_announcement(emit, dispute_id, step.dispute, payment, event) for emit in step.emits]
        if step.emits:
            log.info("dispute %s: %s", snapshot.stripe_dispute_id, ", ".join(e.kind for e in step.emits))
    stored = {row.id: row for row in rows.values()}
    await _store(session, {dispute_id: moved for dispute_id, moved in latest.items()
                           if dispute_id not in stored or moved[0] != _to_domain(stored[dispute_id])}, stored)
    await _MOVE_TAKEN_BACK.write(session, [(payment, {"taken_back_minor": total})
                                           for payment, total in taken_back.items() if total != payment.taken_back_minor])
    await outbox.add_many(session, announcements)


def _payment_of(event: StripeEventReceived, snapshot: disputes.Snapshot, payment: Payment | None) -> Payment | None:
    """The dispute's payment, if it is ours and the dispute can apply to it now."""
    if payment is None:
        log.info("ignoring dispute %s: its charge is not one of our payments", snapshot.stripe_dispute_id)
        return None
    if payment.status != PaymentStatus.SUCCEEDED:
        # Its success is on another partition (Stripe events are keyed by object
        # id): the dispute waits parked until payment_intent.succeeded is applied.
        raise parking.NotReady(waits_for=models.payment_succeeded_key(payment.id), event_id=event.event_id)
    if snapshot.currency != payment.currency:
        raise PermanentError(
            f"dispute {snapshot.stripe_dispute_id} in {snapshot.currency} on payment {payment.id} in {payment.currency}"
        )
    return payment


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


async def _store(
    session: AsyncSession, moved: dict[uuid.UUID, tuple[disputes.Dispute, Payment]], stored: dict[uuid.UUID, Dispute]
) -> None:
    """The disputes the batch created or moved: one insert and one update, each an executemany."""
    added = [{"id": dispute_id, "payment_id": payment.id, "creator_id": payment.creator_id, **_columns(dispute)}
             for dispute_id, (dispute, payment) in moved.items() if dispute_id not in stored]
    changed = [{"dispute_id": dispute_id, **{f"new_{name}": value for name, value in _columns(dispute).items()}}
               for dispute_id, (dispute, _) in moved.items() if dispute_id in stored]
    if added:
        await session.execute(_ADD_DISPUTES, added)
    if changed:
        await session.execute(_STORE_DISPUTES, changed)


def _columns(dispute: disputes.Dispute) -> dict[str, Any]:
    columns = asdict(dispute)
    columns["balance_transaction_ids"] = sorted(dispute.balance_transaction_ids)
    return columns


def _announcement(
    emit: disputes.Emit, dispute_id: uuid.UUID, dispute: disputes.Dispute, payment: Payment, cause: StripeEventReceived
) -> DisputeCreated | DisputeUpdated | DisputeClosed | DisputeFundsWithdrawn | DisputeFundsReinstated:
    new = {"producer": PRODUCER, "creator_id": payment.creator_id, "cause": cause}
    if emit.balance_transaction is not None:
        transaction = emit.balance_transaction
        funds = DisputeFundsData(
            dispute_id=str(dispute_id),
            payment_id=str(payment.id),
            creator_id=payment.creator_id,
            amount_minor=transaction.moved_minor,
            fee_minor=transaction.fee_moved_minor,
            currency=transaction.currency,
            stripe_balance_transaction_id=transaction.id,
            stripe_balance_transaction_ids=[transaction.id],
            charge_amount_minor=transaction.moved_in_dispute_currency(dispute.amount_minor, dispute.currency),
            charge_currency=dispute.currency,
            exchange_rate=transaction.exchange_rate,
        )
        model = DisputeFundsWithdrawn if emit.kind == "funds_withdrawn" else DisputeFundsReinstated
        return model.new(funds, **new)
    assert dispute.creator_share_minor is not None  # only an announced dispute emits
    data = {
        "dispute_id": str(dispute_id),
        "stripe_dispute_id": dispute.stripe_dispute_id,
        "payment_id": str(payment.id),
        "creator_id": payment.creator_id,
        "amount_minor": dispute.amount_minor,
        "currency": dispute.currency,
        "creator_share_minor": dispute.creator_share_minor,
        "status": dispute.status,
        "reason": dispute.reason,
        "evidence_due_by": dispute.evidence_due_by,
    }
    if emit.kind == "created":
        return DisputeCreated.new(DisputeData(**data), **new)
    if emit.kind == "updated":
        return DisputeUpdated.new(DisputeData(**data), **new)
    assert dispute.outcome is not None
    return DisputeClosed.new(DisputeClosedData(**data, outcome=dispute.outcome), **new)
