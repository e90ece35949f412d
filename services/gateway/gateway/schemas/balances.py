"""What the ledger says a creator is owed and owes."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.schemas.money import Currency, MinorUnits

DebtStatus = Literal["OPEN", "PARTIALLY_DEDUCTED", "SETTLED", "REVERSED"]


_BALANCE = {"currency": "EUR", "available_minor": 8500, "disputed_minor": 0, "reserved_minor": 0, "debt_minor": 0,
            "payouts_blocked": False}
_DEBT = {"debt_id": "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8", "creator_id": "creator-42", "currency": "EUR",
         "cause_type": "refund", "cause_id": "7d6c5b4a-3f2e-4d1c-8b0a-9f8e7d6c5b4a", "amount_minor": 2125,
         "remaining_minor": 1125, "deducted_minor": 1000, "reversed_minor": 0, "status": "PARTIALLY_DEDUCTED",
         "created_at": "2026-12-01T10:00:00+00:00", "updated_at": "2026-12-02T10:00:00+00:00"}


class CurrencyBalance(BaseModel):
    model_config = ConfigDict(example=_BALANCE)

    currency: Currency
    available_minor: MinorUnits = Field(description="Earned, payable")
    disputed_minor: MinorUnits = Field(description="Frozen by open disputes")
    reserved_minor: MinorUnits = Field(description="Set aside for requested payouts")
    debt_minor: MinorUnits = Field(description="Owed to the platform; deducted from later payouts")
    payouts_blocked: bool = Field(description="The debt is above the threshold: payout requests are refused")


class Balance(BaseModel):
    model_config = ConfigDict(example={"creator_id": "creator-42", "balances": [_BALANCE]})

    creator_id: str
    balances: list[CurrencyBalance]


class Debt(BaseModel):
    model_config = ConfigDict(example=_DEBT)

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
    model_config = ConfigDict(example={"debts": [_DEBT]})

    debts: list[Debt]
