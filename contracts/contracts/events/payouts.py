"""Events of the payout workflow: payouts emits the workflow's steps, the ledger
answers a request with a reservation or a refusal. Amounts in minor units."""

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from contracts.envelope import Event, EventData
from contracts.money import Currency, MinorUnits


class PayoutData(EventData):
    payout_id: str
    creator_id: str
    currency: Currency
    amount_minor: MinorUnits = Field(description="Gross amount reserved (or requested)")
    debt_deducted_minor: MinorUnits = Field(default=0, description="Open debt taken from the gross")
    net_minor: MinorUnits | None = Field(default=None, description="What goes to the creator's bank")


class PayoutRequestedData(EventData):
    payout_id: str
    creator_id: str
    currency: Currency
    amount_minor: MinorUnits | None = Field(
        description="Gross amount asked for; null asks for all that is available"
    )
    minimum_minor: MinorUnits = Field(description="Smallest gross amount payouts accepts")
    requested_by: str


class PayoutRequested(Event[PayoutRequestedData]):
    TOPIC: ClassVar[str] = "payout.requested"


class DebtDeduction(EventData):
    debt_id: str
    amount_minor: MinorUnits


class FundsReservedData(PayoutData):
    deductions: list[DebtDeduction] = Field(default_factory=list)


class PayoutFundsReserved(Event[FundsReservedData]):
    TOPIC: ClassVar[str] = "payout.funds_reserved"


class FundsRejectedData(EventData):
    payout_id: str
    creator_id: str
    currency: Currency
    reason: Literal["insufficient_available", "debt_above_threshold", "currency_mismatch", "below_minimum"]
    detail: str
    available_minor: int
    debt_minor: int


class PayoutFundsRejected(Event[FundsRejectedData]):
    TOPIC: ClassVar[str] = "payout.funds_rejected"


class PayoutDecisionData(PayoutData):
    actor_id: str = Field(description="Who decided: an admin, the creator, or 'system'")
    reason: str | None = None


class PayoutApproved(Event[PayoutDecisionData]):
    TOPIC: ClassVar[str] = "payout.approved"


class PayoutRejected(Event[PayoutDecisionData]):
    TOPIC: ClassVar[str] = "payout.rejected"


class PayoutCanceled(Event[PayoutDecisionData]):
    TOPIC: ClassVar[str] = "payout.canceled"


class PayoutBlocked(Event[PayoutDecisionData]):
    TOPIC: ClassVar[str] = "payout.blocked"


class PayoutProcessingData(PayoutData):
    stripe_transfer_id: str
    stripe_payout_id: str
    stripe_account_id: str


class PayoutProcessing(Event[PayoutProcessingData]):
    TOPIC: ClassVar[str] = "payout.processing"


class PayoutPaidData(PayoutData):
    stripe_payout_id: str | None = Field(description="None for a payout settled wholly by debt")
    paid_at: datetime


class PayoutPaid(Event[PayoutPaidData]):
    TOPIC: ClassVar[str] = "payout.paid"


class PayoutFailedData(PayoutData):
    stripe_payout_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    was_paid: bool = Field(description="Stripe had reported it paid before failing it")


class PayoutFailed(Event[PayoutFailedData]):
    TOPIC: ClassVar[str] = "payout.failed"
