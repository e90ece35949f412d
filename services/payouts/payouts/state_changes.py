"""Applying the transition table to a stored payout: the one place a payout
changes state, writes its audit row and queues the event that announces it,
all in the caller's transaction (with the payout row locked by the caller)."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from common import logs, outbox
from contracts.envelope import Event
from contracts.events.payouts import (
    PayoutApproved,
    PayoutBlocked,
    PayoutCanceled,
    PayoutDecisionData,
    PayoutFailed,
    PayoutFailedData,
    PayoutPaid,
    PayoutPaidData,
    PayoutProcessing,
    PayoutProcessingData,
    PayoutRejected,
    PayoutRequested,
    PayoutRequestedData,
)
from payouts import models
from payouts.domain.audit import Actor
from payouts.domain.payout_events import PayoutRow, Payouts
from payouts.domain.transitions import Move, Stage, State
from payouts.models import Payout

PRODUCER = "payouts"


async def move(
    session: AsyncSession,
    payout: Payout,
    outcome: Move,
    actor: Actor,
    *,
    reason: str | None = None,
    metadata: dict[str, Any] | None = None,
    cause: Event | None = None,
) -> None:
    """Enter the outcome's stage. A change of state is audited and announced;
    the reservation (REQUESTED -> REQUESTED with funds) is neither."""
    old_state = payout.state
    payout.state = outcome.to.state
    if outcome.to is Stage.RESERVED:
        payout.funds_reserved = True
    if payout.state == old_state:
        return
    await models.append_audits(session, [models.NewAudit(payout, actor, old_state, reason, metadata)])
    await outbox.add(session, _announcement(payout, actor, reason, cause))


async def store(session: AsyncSession, payouts: Payouts, causes: Sequence[Event]) -> None:
    """What a batch of events did to its payouts (`causes`: the batch's events,
    which transitions name by position): each payout written once, every change
    of state audited and announced in delivery order, in three tables' statements."""
    transitions = payouts.transitions
    await models.store_payouts(session, list(payouts.changed.values()))
    await models.append_audits(session, [
        models.NewAudit(t.payout, t.actor, t.old_state, t.reason, t.metadata) for t in transitions])
    await outbox.add_many(session, [
        _announcement(t.payout, t.actor, t.reason, causes[t.cause]) for t in transitions])


async def request(session: AsyncSession, payout: Payout, actor: Actor) -> None:
    """A new payout's first audit row and its `payout.requested`."""
    await models.append_audits(session, [models.NewAudit(payout, actor, old_state=None)])
    data = PayoutRequestedData(
        payout_id=str(payout.id), creator_id=payout.creator_id, currency=payout.currency,
        amount_minor=payout.requested_minor, minimum_minor=payout.minimum_minor, requested_by=payout.requested_by,
    )
    await outbox.add(session, _new(PayoutRequested, data, payout, None))


def _new(model: type[Event], data: Any, payout: Payout | PayoutRow, cause: Event | None) -> Event:
    return model.new(
        data, producer=PRODUCER, creator_id=payout.creator_id, cause=cause,
        correlation_id=None if cause else logs.correlation_id.get(),
    )


def _figures(payout: Payout | PayoutRow) -> dict[str, Any]:
    return {
        "payout_id": str(payout.id),
        "creator_id": payout.creator_id,
        "currency": payout.currency,
        "amount_minor": payout.amount_minor or 0,  # 0: "all available", refused before any reservation
        "debt_deducted_minor": payout.debt_deducted_minor or 0,
        "net_minor": payout.net_minor,
    }


def _announcement(payout: Payout | PayoutRow, actor: Actor, reason: str | None, cause: Event | None) -> Event:
    state = State(payout.state)
    figures = _figures(payout)
    if state is State.PROCESSING:
        data: Any = PayoutProcessingData(
            **figures, stripe_transfer_id=payout.stripe_transfer_id, stripe_payout_id=payout.stripe_payout_id,
            stripe_account_id=payout.stripe_account_id,
        )
        return _new(PayoutProcessing, data, payout, cause)
    if state is State.PAID:
        data = PayoutPaidData(**figures, stripe_payout_id=payout.stripe_payout_id,
                              paid_at=payout.paid_at or datetime.now(UTC))
        return _new(PayoutPaid, data, payout, cause)
    if state is State.FAILED:
        data = PayoutFailedData(
            **figures, stripe_payout_id=payout.stripe_payout_id, failure_code=payout.failure_code,
            failure_message=payout.failure_message, was_paid=payout.paid_at is not None,
        )
        return _new(PayoutFailed, data, payout, cause)
    decisions: dict[State, type[Event]] = {
        State.APPROVED: PayoutApproved,
        State.REJECTED: PayoutRejected,
        State.CANCELED: PayoutCanceled,
        State.BLOCKED: PayoutBlocked,
    }
    data = PayoutDecisionData(**figures, actor_id=actor.id, reason=reason)
    return _new(decisions[state], data, payout, cause)
