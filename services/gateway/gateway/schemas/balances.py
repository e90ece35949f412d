"""What the ledger says a creator is owed and owes."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.schemas.money import Currency, MinorUnits

DebtStatus = Literal["OPEN", "PARTIALLY_DEDUCTED", "SETTLED", "REVERSED"]


class CurrencyBalance(BaseModel):
    currency: Currency
    available_minor: MinorUnits = Field(description="Earned, payable")
    disputed_minor: MinorUnits = Field(description="Frozen by open disputes")
    reserved_minor: MinorUnits = Field(description="Set aside for requested payouts")
    debt_minor: MinorUnits = Field(description="Owed to the platform; deducted from later payouts")
    payouts_blocked: bool = Field(description="The debt is above the threshold: payout requests are refused")


class Balance(BaseModel):
    model_config = ConfigDict(example={"creator_id": "creator-42", "balances": [
        {"currency": "EUR", "available_minor": 8500, "disputed_minor": 0, "reserved_minor": 0, "debt_minor": 0,
         "payouts_blocked": False}]})

    creator_id: str
    balances: list[CurrencyBalance]


class Debt(BaseModel):
    debt_id: str
    creator_id: str
    currency: Currency
    cause_type: str = Field(description="What made it: a refund or a lost dispute")
    cause_id: str
    amount_minor: MinorUnits
    remaining_minor: MinorUnits
    deducted_minor: MinorUnits
    reversed_minor: MinorUnits
    status: DebtStatus
    created_at: datetime
    updated_at: datetime


class DebtList(BaseModel):
    debts: list[Debt]
