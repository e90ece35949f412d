"""Money as the services' HTTP APIs take it in: integer minor units, never
coerced from "1000" or 1000.0, and a three-letter ISO 4217 code in either case
(the domain upper-cases it). One definition for every request body and query."""

from typing import Annotated

from litestar.params import QueryParameter
from pydantic import BeforeValidator, Field

CURRENCY_PATTERN = r"^[A-Za-z]{3}$"


def _integer(value: object) -> object:
    # Litestar validates bodies in lax mode, which would turn "1000" or 1000.0
    # into 1000: money must arrive as an integer, never be coerced into one.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("must be an integer number of minor units")
    return value


MinorUnits = Annotated[int, BeforeValidator(_integer)]
CurrencyCode = Annotated[str, Field(pattern=CURRENCY_PATTERN, description="ISO 4217")]
CurrencyQuery = Annotated[str | None, QueryParameter(pattern=CURRENCY_PATTERN)]
