"""Money as the public API carries it: integer minor units beside an ISO 4217 currency."""

from typing import Annotated

from pydantic import BeforeValidator, Field


def _integer(value: object) -> object:
    # Litestar validates bodies in lax mode, where even StrictInt takes "1000" or
    # 1000.0: money must arrive as an integer (a 400 otherwise), never be coerced into one.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("must be an integer number of minor units")  # noqa: TRY004 - pydantic reports ValueErrors
    return value


MinorUnitsIn = Annotated[int, BeforeValidator(_integer),
                         Field(description="Minor units (cents), an integer", examples=[8500])]
CurrencyIn = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code", examples=["EUR"])]

MinorUnits = Annotated[int, Field(description="Minor units (cents), an integer", examples=[8500])]
Currency = Annotated[str, Field(description="ISO 4217 code, upper case", examples=["EUR"])]
DecimalAmount = Annotated[str, Field(description="The same amount as a decimal string, for display only",
                                     examples=["85.00"])]
