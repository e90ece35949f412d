"""Admins' views of refunds and disputes: pages, stats, refunds stuck at Stripe."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.schemas.money import Currency, DecimalAmount, MinorUnits
from gateway.schemas.payments import REFUND_EXAMPLE, Refund, RefundReason, RefundStatus

_REFUND_ROW = {**REFUND_EXAMPLE, "creator_id": "creator-42", "amount": "25.00"}
_DISPUTE_ROW = {
    "dispute_id": "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091", "payment_id": "5f0e3c1a-1d2b-4c3d-9e8f-0a1b2c3d4e5f",
    "creator_id": "creator-42", "stripe_dispute_id": "dp_123", "amount_minor": 10000, "currency": "EUR",
    "amount": "100.00", "creator_share_minor": 8500, "status": "needs_response", "closed": False, "outcome": None,
    "reason": "fraudulent", "evidence_due_by": "2026-12-15T00:00:00+00:00",
    "created_at": "2026-12-01T10:00:00+00:00", "updated_at": "2026-12-01T10:00:00+00:00"}
_TOTAL = {"status": "SUCCEEDED", "count": 3, "amount_minor": 7500, "currency": "EUR", "amount": "75.00"}
_STUCK = {**REFUND_EXAMPLE, "status": "PENDING", "stripe_refund_id": None, "creator_clawback_minor": None,
          "creator_id": "creator-42", "payment_intent_id": "pi_123", "stuck_for_seconds": 900,
          "give_up_at": "2026-12-02T10:00:00+00:00"}


class RefundRow(BaseModel):
    model_config = ConfigDict(example=_REFUND_ROW)

    refund_id: str
    payment_id: str
    creator_id: str
    amount_minor: MinorUnits
    currency: Currency
    amount: DecimalAmount
    creator_clawback_minor: MinorUnits | None
    status: RefundStatus
    reason: RefundReason | None
    stripe_refund_id: str | None
    requested_by: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime


class RefundPage(BaseModel):
    model_config = ConfigDict(example={"items": [_REFUND_ROW], "next_cursor": None})

    items: list[RefundRow]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last")


class DisputeRow(BaseModel):
    model_config = ConfigDict(example=_DISPUTE_ROW)

    dispute_id: str
    payment_id: str
    creator_id: str
    stripe_dispute_id: str
    amount_minor: MinorUnits
    currency: Currency
    amount: DecimalAmount
    creator_share_minor: MinorUnits | None = Field(description="The creator's share the dispute froze or took")
    status: str = Field(description="Stripe's dispute status: needs_response, under_review, won, lost, ...")
    closed: bool
    outcome: str | None = Field(description="won or lost, once closed")
    reason: str | None
    evidence_due_by: datetime | None
    created_at: datetime
    updated_at: datetime


class DisputePage(BaseModel):
    model_config = ConfigDict(example={"items": [_DISPUTE_ROW], "next_cursor": None})

    items: list[DisputeRow]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last")


class StatusTotal(BaseModel):
    model_config = ConfigDict(example=_TOTAL)

    status: str
    count: int
    amount_minor: MinorUnits
    currency: Currency
    amount: DecimalAmount


class StatusTotals(BaseModel):
    model_config = ConfigDict(example={"stats": [_TOTAL]})

    stats: list[StatusTotal]


class StuckRefund(Refund):
    model_config = ConfigDict(example=_STUCK)

    creator_id: str
    payment_intent_id: str | None
    stuck_for_seconds: int
    give_up_at: datetime = Field(description="When the reconciler fails it if Stripe never made it")


class StuckRefunds(BaseModel):
    model_config = ConfigDict(example={"items": [_STUCK]})

    items: list[StuckRefund]


_DEAD_LETTER = {
    "id": "payment.succeeded.dlq:2:17", "topic": "payment.succeeded",
    "event_id": "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "key": "creator-42", "error_type": "InvalidAmounts",
    "error": "InvalidAmounts: creator share 9000 above the price 8000", "attempts": "1",
    "failed_at": "2026-12-02T10:00:00+00:00", "replayed": False}


class DeadLetter(BaseModel):
    """A message a service gave up on, as its dead-letter topic holds it."""

    model_config = ConfigDict(example=_DEAD_LETTER)

    id: str = Field(description="`<dead-letter topic>:<partition>:<offset>`")
    topic: str = Field(description="The topic it was read from")
    event_id: str | None
    key: str | None
    error_type: str | None
    error: str | None
    attempts: str | None
    failed_at: str | None
    replayed: bool = Field(description="Replayed already (a message is replayed once)")


class ReplayRequest(BaseModel):
    """Which dead letters to replay: `ids`, or `all: true`."""

    model_config = ConfigDict(extra="forbid", example={"ids": ["payment.succeeded.dlq:2:17"]})

    ids: list[str] | None = Field(default=None, max_length=1000)
    all: bool = False


class ReplayOutcome(BaseModel):
    model_config = ConfigDict(example={"id": "payment.succeeded.dlq:2:17", "outcome": "applied", "detail": None})

    id: str
    outcome: Literal["applied", "duplicate", "failed", "already replayed"]
    detail: str | None
