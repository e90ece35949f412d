"""Admins' views of refunds and disputes: pages, stats, refunds stuck at Stripe."""

from datetime import datetime

from pydantic import BaseModel, Field

from gateway.schemas.money import Currency, DecimalAmount, MinorUnits
from gateway.schemas.payments import Refund, RefundReason, RefundStatus


class RefundRow(BaseModel):
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
    items: list[RefundRow]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last")


class DisputeRow(BaseModel):
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
    items: list[DisputeRow]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last")


class StatusTotal(BaseModel):
    status: str
    count: int
    amount_minor: MinorUnits
    currency: Currency
    amount: DecimalAmount


class StatusTotals(BaseModel):
    stats: list[StatusTotal]


class StuckRefund(Refund):
    creator_id: str
    payment_intent_id: str | None
    stuck_for_seconds: int
    give_up_at: datetime = Field(description="When the reconciler fails it if Stripe never made it")


class StuckRefunds(BaseModel):
    items: list[StuckRefund]
