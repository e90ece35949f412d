"""Events payments emits about refunds. Amounts in minor units of the payment's currency."""

from typing import ClassVar

from pydantic import Field

from contracts.envelope import Event, EventData
from contracts.money import Currency, MinorUnits


class RefundCreatedData(EventData):
    """A refund succeeded at Stripe (whoever started it: our API or the dashboard)."""

    refund_id: str
    payment_id: str
    creator_id: str
    stripe_refund_id: str
    amount_minor: MinorUnits = Field(description="Given back to the fan by this refund")
    currency: Currency
    creator_clawback_minor: MinorUnits = Field(
        description="Taken back from the creator as payments computes it in its order: floor(share * taken / "
        "price) minus what earlier refunds and disputes took (the ledger recomputes it from the payment's totals)"
    )
    refunded_total_minor: MinorUnits = Field(description="All succeeded refunds of the payment")
    reason: str | None = None


class RefundCreated(Event[RefundCreatedData]):
    TOPIC: ClassVar[str] = "refund.created"


class RefundFailedData(EventData):
    """A refund failed. If it had succeeded before (`was_succeeded`), its ledger
    entry is reversed: the fan's money and the creator's share are back."""

    refund_id: str
    payment_id: str
    creator_id: str
    stripe_refund_id: str | None = None
    amount_minor: MinorUnits
    currency: Currency
    creator_clawback_minor: MinorUnits = Field(
        description="Returned to the creator as payments computes it in its order: floor(share * t / price) "
        "before the failure minus after it (the ledger recomputes it from the payment's totals)"
    )
    was_succeeded: bool
    failure_reason: str | None = None


class RefundFailed(Event[RefundFailedData]):
    TOPIC: ClassVar[str] = "refund.failed"
