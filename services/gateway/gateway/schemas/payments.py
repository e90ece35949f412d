"""Payments and their refunds."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from common.http import SAFE_ID_PATTERN
from gateway.schemas.money import Currency, CurrencyIn, MinorUnits, MinorUnitsIn

PaymentStatus = Literal["PENDING", "SUCCEEDED", "FAILED", "NEEDS_REVIEW"]
RefundStatus = Literal["PENDING", "REQUIRES_ACTION", "SUCCEEDED", "FAILED", "CANCELED"]
RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]


class IntentBody(BaseModel):
    """What a fan may say: which offer. Its price, currency and creator are the server's."""

    model_config = ConfigDict(extra="forbid", example={"offer_id": "0b7c2f4e-8a9d-4e1f-b2c3-d4e5f6a7b8c9"})

    # Checked here, at the edge: the id is copied into Stripe metadata, logs and exports.
    offer_id: str = Field(pattern=SAFE_ID_PATTERN, description="An active offer of the catalogue")


_AMOUNTS = {"price_minor": 10000, "creator_share_minor": 8500, "platform_fee_minor": 1500, "currency": "EUR"}
_AT = "2026-12-01T10:00:00+00:00"


class Amounts(BaseModel):
    """The split of a price: the creator keeps 85 % (rounded up), the platform the rest."""

    model_config = ConfigDict(example=_AMOUNTS)

    price_minor: MinorUnits
    creator_share_minor: MinorUnits
    platform_fee_minor: MinorUnits
    currency: Currency


class PaymentIntentCreated(BaseModel):
    """A payment opened for an offer; the client secret confirms it with Stripe.js."""

    model_config = ConfigDict(example={
        "payment_id": "5f0e3c1a-1d2b-4c3d-9e8f-0a1b2c3d4e5f", "client_secret": "pi_123_secret_456",
        "stripe_payment_intent_id": "pi_123", "status": "PENDING", "amounts": _AMOUNTS})

    payment_id: str
    client_secret: str | None = Field(description="Given in this answer only, never stored")
    stripe_payment_intent_id: str | None
    amounts: Amounts
    status: PaymentStatus


class Payment(BaseModel):
    model_config = ConfigDict(example={
        "payment_id": "5f0e3c1a-1d2b-4c3d-9e8f-0a1b2c3d4e5f", "status": "SUCCEEDED", "fan_id": "fan-7",
        "creator_id": "creator-42", "offer_id": "0b7c2f4e-8a9d-4e1f-b2c3-d4e5f6a7b8c9", "amounts": _AMOUNTS,
        "stripe_payment_intent_id": "pi_123", "stripe_charge_id": "ch_123", "failure_code": None,
        "failure_message": None, "review_reason": None, "succeeded_at": _AT, "created_at": _AT, "updated_at": _AT})

    payment_id: str
    status: PaymentStatus
    fan_id: str
    creator_id: str
    offer_id: str
    amounts: Amounts
    stripe_payment_intent_id: str | None
    stripe_charge_id: str | None
    failure_code: str | None
    failure_message: str | None
    review_reason: str | None = Field(description="NEEDS_REVIEW: what Stripe reported that differs")
    succeeded_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid", example={"amount_minor": 2500, "currency": "EUR", "reason": "requested_by_customer"})

    amount_minor: MinorUnitsIn | None = Field(default=None, description="Default: all that is left refundable")
    currency: CurrencyIn | None = Field(default=None, description="Must be the payment's")
    reason: RefundReason | None = None


REFUND_EXAMPLE = {
    "refund_id": "7d6c5b4a-3f2e-4d1c-8b0a-9f8e7d6c5b4a", "payment_id": "5f0e3c1a-1d2b-4c3d-9e8f-0a1b2c3d4e5f",
    "status": "SUCCEEDED", "amount_minor": 2500, "currency": "EUR", "reason": "requested_by_customer",
    "creator_clawback_minor": 2125, "stripe_refund_id": "re_123", "failure_reason": None, "requested_by": "admin-1",
    "created_at": _AT, "updated_at": _AT}


class Refund(BaseModel):
    model_config = ConfigDict(example=REFUND_EXAMPLE)

    refund_id: str
    payment_id: str
    status: RefundStatus
    amount_minor: MinorUnits
    currency: Currency
    reason: RefundReason | None
    creator_clawback_minor: MinorUnits | None = Field(description="What the creator's share lost to it, once known")
    stripe_refund_id: str | None
    failure_reason: str | None
    requested_by: str | None
    created_at: datetime
    updated_at: datetime
