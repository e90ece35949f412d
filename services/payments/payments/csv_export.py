"""CSV for the admin exports: one line at a time (the response streams), money as
decimal strings beside their currency, and no cell a spreadsheet would run."""

import csv
import io
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence

# Currencies whose minor unit is not the hundredth, as Stripe counts them.
_ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

# A cell starting with one of these is a formula to a spreadsheet (CSV injection);
# reasons and ids come from outside, so such a cell is quoted with a leading '.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def decimals(currency: str) -> int:
    if currency in _ZERO_DECIMAL:
        return 0
    return 3 if currency in _THREE_DECIMAL else 2


def decimal_string(amount_minor: int, currency: str) -> str:
    """4000, "EUR" -> "40.00"; integer arithmetic only."""
    places = decimals(currency)
    sign = "-" if amount_minor < 0 else ""
    whole, fraction = divmod(abs(amount_minor), 10**places)
    return f"{sign}{whole}.{fraction:0{places}d}" if places else f"{sign}{whole}"


def line(values: Iterable[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(_safe(v) for v in values)
    return buffer.getvalue()


def _safe(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


async def lines(header: Sequence[str], rows: AsyncIterable[Sequence[object]]) -> AsyncIterator[str]:
    """The header, then one CSV line per row as the rows arrive."""
    yield line(header)
    async for row in rows:
        yield line(row)
