"""Events the ledger emits about what creators owe the platform."""

from typing import ClassVar, Literal

from pydantic import Field

from contracts.envelope import Event, EventData
from contracts.money import Currency, MinorUnits


class DebtCreatedData(EventData):
    debt_id: str
    creator_id: str
    amount_minor: MinorUnits = Field(description="What available could not cover")
    currency: Currency
    cause_type: Literal["refund", "dispute"]
    cause_id: str = Field(description="Our refund or dispute id")
    total_debt_minor: MinorUnits = Field(description="All the creator's open debt in this currency")


class DebtCreated(Event[DebtCreatedData]):
    TOPIC: ClassVar[str] = "debt.created"


class DebtDeductedData(EventData):
    debt_id: str
    creator_id: str
    payout_id: str
    amount_minor: MinorUnits = Field(description="Taken from the payout for this debt")
    remaining_minor: MinorUnits
    currency: Currency


class DebtDeducted(Event[DebtDeductedData]):
    TOPIC: ClassVar[str] = "debt.deducted"


class DebtSettledData(EventData):
    debt_id: str
    creator_id: str
    currency: Currency
    amount_minor: MinorUnits = Field(description="The debt's original amount, now paid off")
    payout_id: str | None = None


class DebtSettled(Event[DebtSettledData]):
    TOPIC: ClassVar[str] = "debt.settled"
