"""Events payments emits about disputes (chargebacks), in the order a dispute
lives them: payments puts out-of-order Stripe events back in this order."""

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from contracts.envelope import Event, EventData
from contracts.money import Currency, MinorUnits


class DisputeData(EventData):
    dispute_id: str
    stripe_dispute_id: str
    payment_id: str
    creator_id: str
    amount_minor: MinorUnits = Field(description="Disputed amount")
    currency: Currency
    creator_share_minor: MinorUnits = Field(
        description="The creator's share of the disputed amount, frozen while the dispute is open"
    )
    status: str = Field(description="Stripe's dispute status, e.g. needs_response, won, lost")
    reason: str | None = None
    evidence_due_by: datetime | None = None


class DisputeCreated(Event[DisputeData]):
    TOPIC: ClassVar[str] = "dispute.created"


class DisputeUpdated(Event[DisputeData]):
    TOPIC: ClassVar[str] = "dispute.updated"


class DisputeClosedData(DisputeData):
    outcome: Literal["won", "lost"] = Field(
        description="won: the frozen share goes back to the creator; lost (or accepted): it is gone"
    )


class DisputeClosed(Event[DisputeClosedData]):
    TOPIC: ClassVar[str] = "dispute.closed"


class DisputeFundsData(EventData):
    dispute_id: str
    payment_id: str
    creator_id: str
    amount_minor: MinorUnits = Field(
        description="Disputed amount leaving (or returning to) the balance, in `currency`"
    )
    fee_minor: MinorUnits = Field(description="Stripe's dispute fee charged (or given back), in `currency`")
    currency: Currency = Field(description="Currency of the balance transaction (the settlement currency)")
    stripe_balance_transaction_id: str | None = Field(
        default=None,
        description="The Stripe balance transaction this movement books; each is booked once, by this id "
        "(a dispute can have several: the withdrawal, a counter fee, the reinstatement)",
    )
    stripe_balance_transaction_ids: list[str] = Field(
        description="Deprecated: the one balance transaction of this movement, as a list; "
        "read stripe_balance_transaction_id"
    )
    charge_amount_minor: MinorUnits | None = Field(
        default=None,
        description="The same disputed amount in charge_currency (the dispute's and the payment's currency); "
        "absent on events from before it was added: then it is amount_minor, unconverted",
    )
    charge_currency: Currency | None = Field(default=None, description="The dispute's (the payment's) currency")
    exchange_rate: str | None = Field(
        default=None,
        description="Stripe's exchange_rate as a decimal string; absent when nothing was converted",
        pattern=r"^[0-9]+(\.[0-9]+)?$",
    )

    @property
    def balance_transaction_id(self) -> str | None:
        """The booked transaction's id, also from producers that only sent the list (always of one)."""
        if self.stripe_balance_transaction_id is not None:
            return self.stripe_balance_transaction_id
        return self.stripe_balance_transaction_ids[0] if len(self.stripe_balance_transaction_ids) == 1 else None


class DisputeFundsWithdrawn(Event[DisputeFundsData]):
    TOPIC: ClassVar[str] = "dispute.funds_withdrawn"


class DisputeFundsReinstated(Event[DisputeFundsData]):
    TOPIC: ClassVar[str] = "dispute.funds_reinstated"
