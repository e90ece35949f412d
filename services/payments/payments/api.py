"""Payments' internal HTTP API, called by the gateway only."""

import logging
import uuid
from typing import Any, TypeAlias

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.plugins.problem_details import ProblemDetailsException
from pydantic import BaseModel, ConfigDict, Field

from common.db import Database
from common.http import SAFE_ID_PATTERN, IdempotencyKey, answered_as, require_role
from common.service import DatabaseDep, IdentityDep, RuntimeDep
from common.stripe_api import StripeCallFailed
from payments import models
from payments.domain.offers import InvalidOffer, OfferDisabled, OfferNotFound, OwnOfferRefused, check_can_buy
from payments.domain.payments import IdempotencyKeyReused, PaymentError, PaymentStatus, split
from payments.models import Payment
from payments.stripe_gateway import PaymentIntent, StripeGateway

log = logging.getLogger(__name__)

# Provided by payments.app.create_app, as `stripe_gateway`.
StripeGatewayDep: TypeAlias = NamedDependency[StripeGateway]


class IntentRequest(BaseModel):
    """The fan names what they buy; what it costs and whom it pays is the server's."""

    model_config = ConfigDict(extra="forbid")

    offer_id: str = Field(pattern=SAFE_ID_PATTERN, description="An active offer of the catalogue")


@post("/payments/intents")
async def create_payment_intent(
    data: JSONBody[IntentRequest],
    db: DatabaseDep,
    who: IdentityDep,
    runtime: RuntimeDep,
    stripe_gateway: StripeGatewayDep,
    idempotency_key: IdempotencyKey = None,
) -> Response[dict[str, Any]]:
    """Open a payment for an offer and its Stripe PaymentIntent; the client secret
    is in this answer only (it is never stored).

    Price, currency and creator are copied from the offer row onto the payment. A
    retry with the same Idempotency-Key gets that payment back even if the offer
    has since changed price or been disabled: the fan is paying for what they
    were first shown.

    No transaction is held across the Stripe call: the row is committed PENDING
    first, then Stripe is called with an idempotency key derived from the payment
    id, then the intent id is stored. If we die in between, the row stays PENDING
    without an intent; a retry with the same Idempotency-Key finds the row and
    repeats the Stripe call, which Stripe answers with the same intent.
    """
    require_role(who, "fan")
    offer_id = models.parse_offer_id(data.offer_id)
    async with db.transaction() as session:
        payment = await models.get_payment_by_key(session, who.user_id, idempotency_key) if idempotency_key else None
        if payment is None:
            offer = await models.get_offer(session, offer_id) if offer_id else None
            if offer is None:
                raise OfferNotFound(f"no offer {data.offer_id}")
            check_can_buy(offer_active=offer.active, offer_creator_id=offer.creator_id, fan_id=who.user_id)
            payment, _ = await models.open_payment(
                session,
                fan_id=who.user_id,
                creator_id=offer.creator_id,
                offer_id=str(offer.id),
                amounts=split(offer.price_minor, runtime.settings.creator_share_bps),
                currency=offer.currency,
                idempotency_key=idempotency_key,
            )
    if payment.offer_id != str(offer_id):
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different payment")

    try:
        if payment.stripe_payment_intent_id is not None:
            intent = await stripe_gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
        else:
            intent = await stripe_gateway.create_payment_intent(
                payment_id=payment.id,
                amount_minor=payment.price_minor,
                currency=payment.currency,
                creator_id=payment.creator_id,
                fan_id=payment.fan_id,
                offer_id=payment.offer_id,
            )
    except StripeCallFailed as error:
        if not error.retryable:
            await _record_refusal(db, payment.id, error)
        raise

    if payment.stripe_payment_intent_id is None:
        payment = await _attach_intent(db, payment.id, intent)
    return Response(_intent_view(payment, intent), status_code=201)


@get("/payments/{payment_id:uuid}")
async def get_payment(payment_id: FromPath[uuid.UUID], db: DatabaseDep, who: IdentityDep) -> dict[str, Any]:
    """The paying fan, the creator paid, or an admin; anyone else sees nothing."""
    async with db.transaction() as session:
        payment = await models.get_payment(session, payment_id)
    if payment is None or who.role != "admin" and who.user_id not in (payment.fan_id, payment.creator_id):
        raise NotFoundException("no such payment")
    return payment_view(payment)


async def _attach_intent(db: Database, payment_id: uuid.UUID, intent: PaymentIntent) -> Payment:
    async with db.transaction() as session:
        payment = await models.get_payment_for_update(session, payment_id)
        assert payment is not None
        # A concurrent retry with the same key may have stored it already (same intent).
        if payment.stripe_payment_intent_id is None:
            payment.stripe_payment_intent_id = intent.id
    return payment


async def _record_refusal(db: Database, payment_id: uuid.UUID, error: StripeCallFailed) -> None:
    """Stripe refused to open the intent for good: the payment failed before any
    charge was attempted, so nobody else needs to hear about it (no event)."""
    async with db.transaction() as session:
        payment = await models.get_payment_for_update(session, payment_id)
        assert payment is not None
        if payment.status == PaymentStatus.PENDING and payment.stripe_payment_intent_id is None:
            payment.status = PaymentStatus.FAILED
            payment.failure_code = error.code
            payment.failure_message = error.public_detail


def _amounts(payment: Payment) -> dict[str, Any]:
    return {
        "price_minor": payment.price_minor,
        "creator_share_minor": payment.creator_share_minor,
        "platform_fee_minor": payment.platform_fee_minor,
        "currency": payment.currency,
    }


def _intent_view(payment: Payment, intent: PaymentIntent) -> dict[str, Any]:
    return {
        "payment_id": str(payment.id),
        "client_secret": intent.client_secret,
        "stripe_payment_intent_id": payment.stripe_payment_intent_id,
        "amounts": _amounts(payment),
        "status": payment.status,
    }


def payment_view(payment: Payment) -> dict[str, Any]:
    return {
        "payment_id": str(payment.id),
        "status": payment.status,
        "fan_id": payment.fan_id,
        "creator_id": payment.creator_id,
        "offer_id": payment.offer_id,
        "amounts": _amounts(payment),
        "stripe_payment_intent_id": payment.stripe_payment_intent_id,
        "stripe_charge_id": payment.stripe_charge_id,
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "review_reason": payment.review_reason,
        "succeeded_at": payment.succeeded_at.isoformat() if payment.succeeded_at else None,
        "created_at": payment.created_at.isoformat(),
        "updated_at": payment.updated_at.isoformat(),
    }


def _stripe_failed(request: Request, error: StripeCallFailed) -> Response[dict[str, Any]]:
    log.warning("stripe call failed: %s (%s)", error, error.code)
    problem = ProblemDetailsException(
        status_code=502, title="Stripe call failed", detail=error.public_detail, extra={"code": error.code}
    )
    return problem.to_response(request)


route_handlers = [create_payment_intent, get_payment]

# One map from domain errors to problem-details answers (most specific first wins
# in Litestar's MRO lookup).
exception_handlers = {
    IdempotencyKeyReused: answered_as(409, "Idempotency-Key reused"),
    OfferNotFound: answered_as(404, "No such offer"),
    OfferDisabled: answered_as(409, "Offer disabled"),
    OwnOfferRefused: answered_as(403, "Own offer"),
    InvalidOffer: answered_as(422, "Invalid offer"),
    PaymentError: answered_as(422, "Payment refused"),
    StripeCallFailed: _stripe_failed,
}
