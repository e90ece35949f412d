"""Money on the wire: integer minor units plus an ISO 4217 currency code."""

from typing import Annotated

from pydantic import Field, StrictInt

# Minor units (cents): never a float. Strict so "100" or 1.0 is refused, not coerced.
MinorUnits = Annotated[StrictInt, Field(ge=0, description="Amount in minor units (e.g. cents)")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, upper case")]
