"""Creators' payout accounts and payouts, admins' decisions and the audit trail."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.schemas.money import Currency, CurrencyIn, MinorUnits, MinorUnitsIn

PayoutStatus = Literal["REQUESTED", "APPROVED", "PROCESSING", "PAID", "FAILED", "REJECTED", "CANCELED", "BLOCKED"]


_AT = "2026-12-01T10:00:00+00:00"
_ACCOUNT = {"creator_id": "creator-42", "stripe_account_id": "acct_123", "payouts_enabled": True,
            "charges_enabled": True, "details_submitted": True,
            "requirements": {"currently_due": [], "past_due": [], "disabled_reason": None}, "updated_at": _AT}
_PAYOUT = {
    "payout_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "creator_id": "creator-42", "status": "PAID",
    "funds_reserved": True, "currency": "EUR", "all_available": False, "requested_minor": 5000,
    "gross_minor": 5000, "debt_deducted_minor": 1000, "net_minor": 4000, "reason": None, "reason_detail": None,
    "stripe_transfer_id": "tr_123", "stripe_payout_id": "po_123", "failure_code": None, "failure_message": None,
    "paid_at": "2026-12-02T10:00:00+00:00", "created_at": "2026-12-01T10:00:00+00:00",
    "updated_at": "2026-12-02T10:00:00+00:00"}
_STAT = {"status": "PAID", "currency": "EUR", "count": 2, "amount_minor": 9000, "net_minor": 8000}
_AUDIT = {"seq": 1, "id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "actor_id": "creator-42", "actor_role": "creator",
          "old_state": None, "new_state": "REQUESTED", "reason": None, "metadata": {}, "created_at": _AT,
          "prev_hash": "0" * 64, "hash": "5e88489" + "0" * 57}


class PayoutAccount(BaseModel):
    """The creator's connected Stripe account, as Stripe last reported it."""

    model_config = ConfigDict(example=_ACCOUNT)

    creator_id: str
    stripe_account_id: str | None
    payouts_enabled: bool
    charges_enabled: bool
    details_submitted: bool
    requirements: dict[str, Any] | None = Field(description="Stripe's requirements object, as sent")
    updated_at: datetime | None


class PayoutAccountCreated(PayoutAccount):
    model_config = ConfigDict(example={**_ACCOUNT, "onboarding_url": "https://connect.stripe.com/setup/s/acct_123"})

    onboarding_url: str = Field(description="Stripe's hosted onboarding page; short-lived")


class PayoutRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", example={"amount_minor": 5000, "currency": "EUR"})

    amount_minor: MinorUnitsIn | None = Field(default=None, description="Gross amount in minor units")
    all: bool = Field(default=False, description="Ask for all that is available instead of an amount")
    currency: CurrencyIn


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", example={"reason": "bank details unverified"})

    reason: str | None = Field(default=None, max_length=1000, description="Required by the payouts service")


class Payout(BaseModel):
    """A payout: the gross set aside, the debt deducted from it, the net paid."""

    model_config = ConfigDict(example=_PAYOUT)

    payout_id: str
    creator_id: str
    status: PayoutStatus
    funds_reserved: bool
    currency: Currency
    all_available: bool
    requested_minor: MinorUnits | None = Field(description="null when all that is available was asked for")
    gross_minor: MinorUnits | None = Field(description="Set aside by the ledger, once reserved")
    debt_deducted_minor: MinorUnits | None
    net_minor: MinorUnits | None = Field(description="What reaches the bank: gross minus the debt deducted")
    reason: str | None = Field(description="Why it was rejected, blocked, voided or failed")
    reason_detail: str | None
    stripe_transfer_id: str | None
    stripe_payout_id: str | None
    failure_code: str | None
    failure_message: str | None
    paid_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    # Admins' answers only:
    requested_by: str | None = Field(default=None, description="Admins only")
    approved_by: str | None = Field(default=None, description="Admins only")
    stripe_account_id: str | None = Field(default=None, description="Admins only")
    stripe_reversal_id: str | None = Field(default=None, description="Admins only")
    stripe_error_code: str | None = Field(default=None, description="Admins only: the last Stripe error of an "
                                                                   "APPROVED payout (approving again retries)")
    stripe_error_message: str | None = Field(default=None, description="Admins only")


class PayoutPage(BaseModel):
    model_config = ConfigDict(example={"items": [_PAYOUT], "next_cursor": None})

    items: list[Payout]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last")


class PayoutStat(BaseModel):
    model_config = ConfigDict(example=_STAT)

    status: PayoutStatus
    currency: Currency
    count: int
    amount_minor: MinorUnits = Field(description="Sum of the gross (or requested) amounts")
    net_minor: MinorUnits


class PayoutStats(BaseModel):
    model_config = ConfigDict(example={"stats": [_STAT]})

    stats: list[PayoutStat]


class AuditEntry(BaseModel):
    """One transition; rows are hash-chained: `hash` covers the row and `prev_hash`."""

    model_config = ConfigDict(example=_AUDIT)

    seq: int
    id: str
    actor_id: str
    actor_role: str
    old_state: str | None
    new_state: str
    reason: str | None
    metadata: dict[str, Any] | None
    created_at: datetime
    prev_hash: str
    hash: str


class PayoutAudit(BaseModel):
    model_config = ConfigDict(example={"payout_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "items": [_AUDIT]})

    payout_id: str
    items: list[AuditEntry]
