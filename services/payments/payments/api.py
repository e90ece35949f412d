"""Payments' internal HTTP API, called by the gateway only."""

import logging
import uuid
from typing import Annotated, Any, TypeAlias

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, HeaderParameter, JSONBody
from litestar.plugins.problem_details import ProblemDetailsException
from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.db import Database
from common.http import require_role
from common.service import DatabaseDep, IdentityDep, RuntimeDep
from payments import domain, models
from payments.domain import PaymentStatus
from payments.models import Payment
from payments.stripe_gateway import PaymentIntent, StripeCallFailed, StripeGateway

log = logging.getLogger(__name__)

# Provided by payments.app.create_app, as `stripe_gateway`.
StripeGatewayDep: TypeAlias = NamedDependency[StripeGateway]


class IntentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    creator_id: str = Field(min_length=1, max_length=200)
    price_minor: int = Field(description="What the fan pays, in minor units")
    currency: str = Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217")
    offer_id: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("price_minor", mode="before")
    @classmethod
    def _minor_units_are_integers(cls, value: object) -> object:
        # Litestar validates bodies in lax mode, which would turn "1000" or 1000.0
        # into 1000: money must arrive as an integer, never be coerced into one.
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("price_minor must be an integer number of minor units")
        return value


@post("/payments/intents")
async def create_payment_intent(
    data: JSONBody[IntentRequest],
    db: DatabaseDep,
    who: IdentityDep,
    runtime: RuntimeDep,
    stripe_gateway: StripeGatewayDep,
    idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key", max_length=200)] = None,
) -> Response[dict[str, Any]]:
    """Open a payment and its Stripe PaymentIntent; the client secret is in this
    answer only (it is never stored).

    No transaction is held across the Stripe call: the row is committed PENDING
    first, then Stripe is called with an idempotency key derived from the payment
    id, then the intent id is stored. If we die in between, the row stays PENDING
    without an intent; a retry with the same Idempotency-Key finds the row and
    repeats the Stripe call, which Stripe answers with the same intent.
    """
    require_role(who, "fan")
    currency = data.currency.upper()
    domain.check_price(data.price_minor, currency)
    amounts = domain.split(data.price_minor, runtime.settings.creator_share_bps)

    async with db.transaction() as session:
        payment, created = await models.open_payment(
            session,
            fan_id=who.user_id,
            creator_id=data.creator_id,
            offer_id=data.offer_id,
            amounts=amounts,
            currency=currency,
            idempotency_key=idempotency_key,
        )
    if not created and not _same_request(payment, data, currency):
        raise domain.IdempotencyKeyReused("this Idempotency-Key was used for a different payment")

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


def _same_request(payment: Payment, data: IntentRequest, currency: str) -> bool:
    return (payment.creator_id, payment.offer_id, payment.price_minor, payment.currency) == (
        data.creator_id,
        data.offer_id,
        data.price_minor,
        currency,
    )


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
        "succeeded_at": payment.succeeded_at.isoformat() if payment.succeeded_at else None,
        "created_at": payment.created_at.isoformat(),
        "updated_at": payment.updated_at.isoformat(),
    }


def _problem(status: int, title: str):  # noqa: ANN202 - a Litestar exception handler
    def handle(request: Request, error: Exception) -> Response[dict[str, Any]]:
        return ProblemDetailsException(status_code=status, title=title, detail=str(error)).to_response(request)

    return handle


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
    domain.IdempotencyKeyReused: _problem(409, "Idempotency-Key reused"),
    domain.PaymentError: _problem(422, "Payment refused"),
    StripeCallFailed: _stripe_failed,
}
