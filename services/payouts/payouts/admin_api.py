"""Lists of payouts: filtered, sorted, cursor-paginated (keyset: the sort key
and the id of the last row, so a page never skips or repeats a row while rows
are added), the same list as a streamed CSV, and count and sum per status."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from litestar import Response, get
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from common import csv_export, cursors
from common.db import Database
from common.http import problem, require_role
from common.money import CurrencyQuery
from common.service import DatabaseDep, IdentityDep
from payouts.models import Payout
from payouts.response_bodies import payout_view

Sort = Literal["created_at", "amount"]
Order = Literal["asc", "desc"]
MAX_PAGE = 200
CSV_PAGE = 500  # rows per query while a CSV streams; each query is its own short transaction

# Gross once reserved, else the amount asked (0 for "all", not yet reserved): what lists sort and filter on.
AMOUNT = sa.func.coalesce(Payout.gross_minor, Payout.requested_minor, 0)


@dataclass(frozen=True)
class Filters:
    statuses: tuple[str, ...] = ()
    creator_id: str | None = None
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive
    amount_min: int | None = None  # minor units, inclusive
    amount_max: int | None = None
    currency: str | None = None

    def apply(self, query: sa.Select) -> sa.Select:
        conditions = [
            Payout.state.in_(self.statuses) if self.statuses else None,
            Payout.creator_id == self.creator_id if self.creator_id is not None else None,
            Payout.created_at >= self.created_from if self.created_from is not None else None,
            Payout.created_at < self.created_to if self.created_to is not None else None,
            AMOUNT >= self.amount_min if self.amount_min is not None else None,
            AMOUNT <= self.amount_max if self.amount_max is not None else None,
            Payout.currency == self.currency.upper() if self.currency is not None else None,
        ]
        return query.where(*(c for c in conditions if c is not None))


def _sort_column(sort: Sort) -> sa.ColumnElement:
    return Payout.created_at if sort == "created_at" else AMOUNT


def _key(payout: Payout, sort: Sort) -> tuple[datetime | int, uuid.UUID]:
    return (payout.created_at if sort == "created_at" else payout.amount_minor or 0), payout.id


def _page_query(filters: Filters, sort: Sort, order: Order, after: tuple | None, limit: int) -> sa.Select:
    column = _sort_column(sort)
    query = filters.apply(sa.select(Payout))
    if after is not None:
        key = sa.tuple_(column, Payout.id)
        query = query.where(key > sa.tuple_(*after) if order == "asc" else key < sa.tuple_(*after))
    direction = sa.asc if order == "asc" else sa.desc
    return query.order_by(direction(column), direction(Payout.id)).limit(limit)


async def page(
    db: Database, filters: Filters, sort: Sort, order: Order, limit: int, cursor: str | None, *, admin: bool
) -> dict[str, Any]:
    try:
        after = cursors.decode(cursor, sort, order) if cursor is not None else None
    except cursors.InvalidCursor as error:
        raise problem(400, "Bad Request", str(error), reason="bad_query") from error
    async with db.transaction() as session:
        rows = list(await session.scalars(_page_query(filters, sort, order, after, limit + 1)))
    shown, more = rows[:limit], len(rows) > limit
    return {
        "items": [payout_view(p, admin=admin) for p in shown],
        "next_cursor": cursors.encode(sort, order, *_key(shown[-1], sort)) if more else None,
    }


CSV_HEADER = (
    "payout_id", "creator_id", "status", "currency", "requested_minor", "gross_minor", "debt_deducted_minor",
    "net_minor", "reason", "requested_by", "approved_by", "stripe_transfer_id", "stripe_payout_id",
    "failure_code", "paid_at", "created_at",
)


def _csv_row(payout: Payout) -> tuple[object, ...]:
    return (
        payout.id, payout.creator_id, payout.state, payout.currency, payout.requested_minor, payout.gross_minor,
        payout.debt_deducted_minor, payout.net_minor, payout.reason, payout.requested_by, payout.approved_by,
        payout.stripe_transfer_id, payout.stripe_payout_id, payout.failure_code,
        payout.paid_at.isoformat() if payout.paid_at else None, payout.created_at.isoformat(),
    )


async def _csv(db: Database, filters: Filters, sort: Sort, order: Order) -> AsyncIterator[str]:
    """Every matching payout, page by page: no transaction stays open while the client reads."""
    yield csv_export.line(CSV_HEADER)
    after = None
    while True:
        async with db.transaction() as session:
            rows = list(await session.scalars(_page_query(filters, sort, order, after, CSV_PAGE)))
        for payout in rows:
            yield csv_export.line(_csv_row(payout))
        if len(rows) < CSV_PAGE:
            return
        after = _key(rows[-1], sort)


StatusQuery = Annotated[list[str] | None, QueryParameter(description="repeat for several")]
CreatedFromQuery = Annotated[datetime | None, QueryParameter(description="inclusive, ISO 8601")]
CreatedToQuery = Annotated[datetime | None, QueryParameter(description="exclusive, ISO 8601")]
AmountQuery = Annotated[int | None, QueryParameter(ge=0, description="minor units, inclusive")]
LimitQuery = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)]


def _filters(
    status: list[str] | None, creator_id: str | None, created_from: datetime | None, created_to: datetime | None,
    amount_min: int | None, amount_max: int | None, currency: str | None,
) -> Filters:
    if created_from and created_to and created_from > created_to:
        raise problem(400, "Bad Request", "created_from is after created_to", reason="bad_query")
    return Filters(tuple(s.upper() for s in status or ()), creator_id, created_from, created_to,
                   amount_min, amount_max, currency)


@get("/admin/payouts")
async def list_payouts(
    db: DatabaseDep, who: IdentityDep,
    status: StatusQuery = None, creator_id: FromQuery[str | None] = None, created_from: CreatedFromQuery = None,
    created_to: CreatedToQuery = None, amount_min: AmountQuery = None, amount_max: AmountQuery = None,
    currency: CurrencyQuery = None, sort: FromQuery[Sort] = "created_at", order: FromQuery[Order] = "desc",
    limit: LimitQuery = 50, cursor: FromQuery[str | None] = None, format: FromQuery[Literal["json", "csv"]] = "json",
) -> Response:
    """All payouts, newest first by default; `?format=csv` streams every match."""
    require_role(who, "admin")
    filters = _filters(status, creator_id, created_from, created_to, amount_min, amount_max, currency)
    if format == "csv":
        return Stream(
            _csv(db, filters, sort, order),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="payouts.csv"'},
        )
    return Response(await page(db, filters, sort, order, limit, cursor, admin=True))


@get("/admin/payouts/stats")
async def payout_stats(
    db: DatabaseDep, who: IdentityDep,
    status: StatusQuery = None, creator_id: FromQuery[str | None] = None, created_from: CreatedFromQuery = None,
    created_to: CreatedToQuery = None, amount_min: AmountQuery = None, amount_max: AmountQuery = None,
    currency: CurrencyQuery = None,
) -> dict[str, Any]:
    """Count and sum (gross, net) per status and currency; the list's filters apply."""
    require_role(who, "admin")
    filters = _filters(status, creator_id, created_from, created_to, amount_min, amount_max, currency)
    query = filters.apply(
        sa.select(
            Payout.state, Payout.currency, sa.func.count(),
            sa.func.coalesce(sa.func.sum(AMOUNT), 0), sa.func.coalesce(sa.func.sum(Payout.net_minor), 0),
        )
    ).group_by(Payout.state, Payout.currency).order_by(Payout.state, Payout.currency)
    async with db.transaction() as session:
        rows = list(await session.execute(query))
    return {
        "stats": [
            {"status": state, "currency": cur, "count": count, "amount_minor": int(amount), "net_minor": int(net)}
            for state, cur, count, amount, net in rows
        ]
    }


route_handlers = [list_payouts, payout_stats]
