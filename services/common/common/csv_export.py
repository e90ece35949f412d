"""CSV for the admin exports: one line at a time (the response streams), and no
cell a spreadsheet would run. Money goes in as contracts.money.decimal_string
beside its currency."""

import csv
import io
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence

# A cell starting with one of these is a formula to a spreadsheet (CSV injection);
# reasons and ids come from outside, so such a cell is quoted with a leading '.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


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
