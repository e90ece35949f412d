"""Events the ledger emits."""

from typing import ClassVar

from pydantic import Field, StrictInt

from contracts.envelope import Event, EventData
from contracts.money import Currency


class BalanceChangedData(EventData):
    creator_id: str
    currency: Currency
    journal_entry_id: str = Field(description="The entry that changed the balance")
    # Balances as the creator sees them, in minor units (credit-normal, so positive
    # means owed to the creator; debt positive means owed by the creator).
    available_minor: StrictInt
    disputed_minor: StrictInt = 0
    reserved_minor: StrictInt = 0
    debt_minor: StrictInt = 0


class BalanceChanged(Event[BalanceChangedData]):
    TOPIC: ClassVar[str] = "ledger.balance_changed"
