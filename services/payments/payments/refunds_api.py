"""Refund routes of payments' internal API (called by the gateway only)."""

import logging
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.plugins.problem_details import ProblemDetailsException
from pydantic import BaseModel, ConfigDict, Field

from common.db import Database
from common.http import answered_as, require_role
from common.money import CurrencyCode, MinorUnits
from common.service import DatabaseDep, IdentityDep, RuntimeDep
from common.stripe_api import StripeCallFailed
from payments import models, refunds_reconciler
from payments.api import StripeGatewayDep
from payments.domain import refunds
from payments.domain.refunds import RefundStatus
from payments.handlers.refunds import apply_answer
from payments.models import Refund

log = logging.getLogger(__name__)


class RefundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_minor: MinorUnits | None = Field(default=None, description="Minor units; all that is left refundable if omitted")
    currency: CurrencyCode | None = Field(default=None, description="ISO 4217; must be the payment's")
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None


class RefundNotStarted(Exception):
    """Stripe was not reached, or refused: the refund is recorded with its outcome."""

    def __init__(self, refund: Refund, error: StripeCallFailed) -> None:
        super().__init__(str(error))
        self.refund = refund
        self.error = error


@post("/payments/{payment_id:uuid}/refunds")
async def create_refund(
    payment_id: FromPath[uuid.UUID],
    data: JSONBody[RefundRequest],
    db: DatabaseDep,
    who: IdentityDep,
    stripe_gateway: StripeGatewayDep,
) -> Response[dict[str, Any]]:
    """Validate, commit the refund PENDING, then ask Stripe with an idempotency
    key from the refund id, then apply Stripe's answer exactly as a webhook would.
    No transaction is held across the Stripe call."""
    require_role(who, "admin")
    async with db.transaction() as session:
        # Locked: two refunds of one payment never both pass the refundable check.
        payment = await models.get_payment_for_update(session, payment_id)
        if payment is None:
            raise NotFoundException("no such payment")
        amount = refunds.check_refund(
            payment_status=payment.status,
            payment_currency=payment.currency,
            refundable_minor=refunds.refundable(
                price_minor=payment.price_minor,
                taken_back_minor=payment.taken_back_minor,
                open_refunds_minor=await models.open_refunds_minor(session, payment.id),
            ),
            amount_minor=data.amount_minor,
            currency=data.currency,
            reason=data.reason,
        )
        if payment.stripe_payment_intent_id is None:
            raise refunds.PaymentNotRefundable("the payment has no PaymentIntent at Stripe")
        refund = Refund(
            id=uuid.uuid4(),
            payment_id=payment.id,
            amount_minor=amount,
            currency=payment.currency,
            status=RefundStatus.PENDING,
            reason=data.reason,
            requested_by=who.user_id,
        )
        session.add(refund)
        intent_id = payment.stripe_payment_intent_id

    try:
        answer = await stripe_gateway.create_refund(
            refund_id=refund.id, payment_id=payment_id, payment_intent_id=intent_id,
            amount_minor=amount, reason=data.reason,
        )
    except StripeCallFailed as error:
        raise RefundNotStarted(await _record_refusal(db, refund.id, error), error) from error

    async with db.transaction() as session:
        applied = await apply_answer(session, refund.id, answer, stripe_gateway)
        await session.flush()
        await session.refresh(applied)  # the timestamps the database set
    return Response(refund_view(applied), status_code=202)


@get("/payments/{payment_id:uuid}/refunds")
async def list_refunds(payment_id: FromPath[uuid.UUID], db: DatabaseDep, who: IdentityDep) -> list[dict[str, Any]]:
    """An admin, or the paying fan or the creator paid; anyone else sees nothing."""
    async with db.transaction() as session:
        payment = await models.get_payment(session, payment_id)
        if payment is None or who.role != "admin" and who.user_id not in (payment.fan_id, payment.creator_id):
            raise NotFoundException("no such payment")
        return [refund_view(r) for r in await models.list_refunds(session, payment_id)]


async def _record_refusal(db: Database, refund_id: uuid.UUID, error: StripeCallFailed) -> Refund:
    """A definitive refusal fails the refund (no money moved, nobody was told of
    it: no event). A retryable failure leaves it PENDING: Stripe may have made
    it, and its webhook (matched by the refund id in the metadata) or the
    reconciler (payments.refunds_reconciler) settles it."""
    async with db.transaction() as session:
        refund = await models.get_refund(session, refund_id, for_update=True)
        assert refund is not None
        if not error.retryable and refund.status == RefundStatus.PENDING and refund.stripe_refund_id is None:
            refund.status = RefundStatus.FAILED
            refund.failure_reason = error.code
        await session.flush()
        await session.refresh(refund)
    return refund


@get("/admin/refunds/stuck")
async def list_stuck_refunds(
    db: DatabaseDep, who: IdentityDep, runtime: RuntimeDep, limit: FromQuery[int] = 100
) -> dict[str, Any]:
    """Refunds PENDING without a Stripe id for longer than an API call lasts,
    oldest first, with when the reconciler gives up on each."""
    require_role(who, "admin")
    bounds = refunds_reconciler.Bounds.of(runtime.settings)
    now = datetime.now(UTC)
    stuck = await refunds_reconciler.stuck_refunds(db, now - bounds.stuck_after, min(max(limit, 1), 500))
    return {
        "items": [
            {**refund_view(refund), "creator_id": creator_id, "payment_intent_id": intent_id,
             "stuck_for_seconds": int((now - refund.created_at).total_seconds()),
             "give_up_at": (refund.created_at + bounds.give_up_after).isoformat()}
            for refund, intent_id, creator_id in stuck
        ]
    }


def refund_view(refund: Refund) -> dict[str, Any]:
    return {
        "refund_id": str(refund.id),
        "payment_id": str(refund.payment_id),
        "status": refund.status,
        "amount_minor": refund.amount_minor,
        "currency": refund.currency,
        "reason": refund.reason,
        "creator_clawback_minor": refund.creator_clawback_minor,
        "stripe_refund_id": refund.stripe_refund_id,
        "failure_reason": refund.failure_reason,
        "requested_by": refund.requested_by,
        "created_at": refund.created_at.isoformat(),
        "updated_at": refund.updated_at.isoformat(),
    }


def _not_started(request: Request, error: RefundNotStarted) -> Response[dict[str, Any]]:
    log.warning("refund %s: stripe call failed: %s (%s)", error.refund.id, error.error, error.error.code)
    problem = ProblemDetailsException(
        status_code=502,
        title="Stripe call failed",
        detail=error.error.public_detail,
        extra={"code": error.error.code, "retryable": error.error.retryable, "refund": refund_view(error.refund)},
    )
    return problem.to_response(request)


route_handlers = [create_refund, list_refunds, list_stuck_refunds]

exception_handlers = {
    refunds.PaymentNotRefundable: answered_as(409, "Payment not refundable"),
    refunds.InvalidRefund: answered_as(422, "Refund refused"),
    RefundNotStarted: _not_started,
}
