"""The query parameters of the list routes, typed so that the gateway refuses a
malformed one (400 naming it) and the OpenAPI lists them. Each provider answers
the query string as the caller sent it: it is forwarded untouched (repeats, order),
and the service applies it."""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from litestar import Request
from litestar.di import Provide
from litestar.params import QueryParameter

from common.http import SAFE_ID_PATTERN

Status = Annotated[list[str] | None, QueryParameter(description="Keep these statuses; repeat for several")]
CreatorId = Annotated[str | None, QueryParameter(pattern=SAFE_ID_PATTERN, description="Keep one creator's")]
CreatedFrom = Annotated[datetime | None, QueryParameter(description="Created at or after (ISO 8601)")]
CreatedTo = Annotated[datetime | None, QueryParameter(description="Created before (ISO 8601)")]
AmountMin = Annotated[int | None, QueryParameter(ge=0, description="At least this many minor units")]
AmountMax = Annotated[int | None, QueryParameter(ge=0, description="At most this many minor units")]
Currency = Annotated[str | None, QueryParameter(pattern=r"^[A-Za-z]{3}$", description="ISO 4217")]
Reason = Annotated[str | None, QueryParameter(description="Keep this reason")]
Sort = Annotated[Literal["created_at", "amount"], QueryParameter(description="Sort key")]
Order = Annotated[Literal["asc", "desc"], QueryParameter(description="Sort order")]
PageLimit = Annotated[int, QueryParameter(ge=1, le=200, description="Rows per page")]
Cursor = Annotated[str | None, QueryParameter(description="`next_cursor` of the previous page")]
Format = Annotated[Literal["json", "csv"] | None, QueryParameter(
    description="csv: every matching row as a CSV download (so does Accept: text/csv)")]


def money_filters(
    request: Request, status: Status = None, creator_id: CreatorId = None, created_from: CreatedFrom = None,
    created_to: CreatedTo = None, amount_min: AmountMin = None, amount_max: AmountMax = None,
    currency: Currency = None, reason: Reason = None,
) -> str:
    """Refunds' and disputes' filters (stats take them alone)."""
    return request.url.query


def money_page(
    request: Request, status: Status = None, creator_id: CreatorId = None, created_from: CreatedFrom = None,
    created_to: CreatedTo = None, amount_min: AmountMin = None, amount_max: AmountMax = None,
    currency: Currency = None, reason: Reason = None, sort: Sort = "created_at", order: Order = "desc",
    limit: PageLimit = 50, cursor: Cursor = None, format: Format = None,
) -> str:
    """Refunds' and disputes' filters, sort, page and format."""
    return request.url.query


def payout_filters(
    request: Request, status: Status = None, creator_id: CreatorId = None, created_from: CreatedFrom = None,
    created_to: CreatedTo = None, amount_min: AmountMin = None, amount_max: AmountMax = None,
    currency: Currency = None,
) -> str:
    """Payouts' filters (stats take them alone)."""
    return request.url.query


def payout_page(
    request: Request, status: Status = None, creator_id: CreatorId = None, created_from: CreatedFrom = None,
    created_to: CreatedTo = None, amount_min: AmountMin = None, amount_max: AmountMax = None,
    currency: Currency = None, sort: Sort = "created_at", order: Order = "desc", limit: PageLimit = 50,
    cursor: Cursor = None, format: Format = None,
) -> str:
    """Payouts' filters, sort, page and format."""
    return request.url.query


def own_payout_page(request: Request, status: Status = None, limit: PageLimit = 50, cursor: Cursor = None) -> str:
    """A creator's own payouts: status, page."""
    return request.url.query


def stuck_refunds(request: Request, limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100) -> str:
    return request.url.query


def debts(request: Request,
          status: Literal["OPEN", "PARTIALLY_DEDUCTED", "SETTLED", "REVERSED"] | None = None,
          limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100) -> str:
    """Debts' status and page size (the route takes `creator_id` itself: it checks it)."""
    return request.url.query


def account_of(request: Request, creator_id: CreatorId = None) -> str:
    """An admin names the creator; a creator sees their own."""
    return request.url.query


def forwarded(provider: Callable[..., str]) -> dict[str, Provide]:
    """`dependencies=` of a route: its checked query string, as the `checked_query` argument."""
    return {"checked_query": Provide(provider, sync_to_thread=False)}
