"""Events payments emits about refunds. Amounts in minor units of the payment's
currency, except the settlement fields: the refund's balance transaction, in
the platform's settlement currency."""

from typing import ClassVar

from pydantic import Field

from contracts.envelope import Event, EventData
from contracts.money import Currency, MinorUnits


class RefundSettlement(EventData):
    """How the refund moved the platform's Stripe balance: its balance transaction
    (the refund's, or the refund failure's), in the settlement currency. The fields
    are absent on events from before they were added, or when Stripe named no
    balance transaction: then the refund is taken as settled in `currency`, unconverted."""

    balance_transaction_id: str | None = Field(default=None, description="Stripe's balance transaction id")
    settlement_amount_minor: MinorUnits | None = Field(
        default=None, description="The balance transaction's amount without its sign, in settlement_currency"
    )
    settlement_currency: Currency | None = Field(
        default=None, description="Currency of the balance transaction (the platform's settlement currency)"
    )
    exchange_rate: str | None = Field(
        default=None,
        description="Stripe's exchange_rate as a decimal string (refund amount x rate = settlement amount); "
        "absent when nothing was converted",
        pattern=r"^[0-9]+(\.[0-9]+)?$",
    )


class RefundCreatedData(RefundSettlement):
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


class RefundFailedData(RefundSettlement):
    """A refund failed. If it had succeeded before (`was_succeeded`), its ledger
    entry is reversed: the fan's money and the creator's share are back. The
    settlement fields are then the refund failure's balance transaction."""

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
