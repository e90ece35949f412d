"""Money as the public API carries it: integer minor units beside an ISO 4217 currency."""

from typing import Annotated

from pydantic import Field, StrictInt

# Strict in what callers send: "1000" or 1000.0 is a 400, never coerced into money.
MinorUnitsIn = Annotated[StrictInt, Field(description="Minor units (cents), an integer", examples=[8500])]
CurrencyIn = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code", examples=["EUR"])]

MinorUnits = Annotated[int, Field(description="Minor units (cents), an integer", examples=[8500])]
Currency = Annotated[str, Field(description="ISO 4217 code, upper case", examples=["EUR"])]
DecimalAmount = Annotated[str, Field(description="The same amount as a decimal string, for display only",
                                     examples=["85.00"])]
