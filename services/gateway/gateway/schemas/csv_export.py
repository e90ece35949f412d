"""The list routes that answer a CSV download as well as a JSON page."""

from dataclasses import dataclass

from litestar.openapi.spec import OpenAPIMediaType, Operation, Schema

CSV = "text/csv"


@dataclass
class CsvOrJson(Operation):
    """An operation whose 200 is the JSON page, or with `?format=csv` (or
    `Accept: text/csv`) every matching row as CSV: Litestar describes one media
    type per status, so the CSV one is added here."""

    def __post_init__(self) -> None:
        success = (self.responses or {}).get("200")
        if success is not None and not isinstance(success, dict) and success.content is not None:
            success.content[CSV] = OpenAPIMediaType(schema=Schema(
                type="string", description="A header row, then one row per match; "
                                           "amounts as decimal strings with their currency"))
