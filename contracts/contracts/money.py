"""Money on the wire: integer minor units plus an ISO 4217 currency code."""

from typing import Annotated

from pydantic import Field, StrictInt

# Minor units (cents): never a float. Strict so "100" or 1.0 is refused, not coerced.
MinorUnits = Annotated[StrictInt, Field(ge=0, description="Amount in minor units (e.g. cents)")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, upper case")]


# Our minor units are Stripe's, so the decimal places are Stripe's
# (https://docs.stripe.com/currencies): ISK, HUF, TWD and UGX travel in
# two-decimal form there even though they have no minor unit in cash, so they
# keep the default of 2.
_ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF", "XOF", "XPF"}
)
_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def decimal_places(currency: str) -> int:
    if currency in _ZERO_DECIMAL:
        return 0
    return 3 if currency in _THREE_DECIMAL else 2


def decimal_string(amount_minor: int, currency: str) -> str:
    """`8500, "EUR"` -> `"85.00"`, for display and CSV only; integer arithmetic."""
    places = decimal_places(currency)
    sign = "-" if amount_minor < 0 else ""
    whole, fraction = divmod(abs(amount_minor), 10**places)
    return f"{sign}{whole}.{fraction:0{places}d}" if places else f"{sign}{whole}"
