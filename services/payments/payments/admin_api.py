"""Admins' views of refunds and disputes: filtered, sorted, cursor-paginated
lists, the same lists as a streamed CSV, and count and sum per status.

Data comes from payments' own tables only. The cursor is opaque to callers: the
sort key and id of the last row, so a page never skips or repeats a row while
rows are being added (keyset pagination, the id breaking ties).
"""

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from litestar import Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from common import csv_export, cursors
from common.db import Database
from common.http import Identity, problem, require_role
from common.money import CurrencyQuery
from common.service import DatabaseDep, IdentityDep
from contracts.money import decimal_string
from payments.models import Dispute, Payment, Refund

Sort = Literal["created_at", "amount"]
Order = Literal["asc", "desc"]
MAX_PAGE = 200
CSV_PAGE = 500  # rows fetched per query while a CSV streams; each query is its own short transaction


@dataclass(frozen=True)
class Filters:
    statuses: tuple[str, ...]
    creator_id: str | None
    created_from: datetime | None  # inclusive
    created_to: datetime | None  # exclusive
    amount_min: int | None  # minor units, inclusive
    amount_max: int | None
    reason: str | None
    currency: str | None


@dataclass(frozen=True)
class View:
    """One admin list: its query, its columns, how a row reads as JSON and as CSV."""

    name: str
    select: Callable[[], sa.Select]
    id: sa.ColumnElement
    created_at: sa.ColumnElement
    amount: sa.ColumnElement
    status: sa.ColumnElement
    currency: sa.ColumnElement
    creator_id: sa.ColumnElement
    reason: sa.ColumnElement
    normalize_status: Callable[[str], str]
    item: Callable[[sa.Row], dict[str, Any]]
    csv_header: tuple[str, ...]
    csv_row: Callable[[sa.Row], Sequence[object]]

    def filtered(self, query: sa.Select, filters: Filters) -> sa.Select:
        conditions = [
            self.status.in_([self.normalize_status(s) for s in filters.statuses]) if filters.statuses else None,
            self.creator_id == filters.creator_id if filters.creator_id is not None else None,
            self.created_at >= filters.created_from if filters.created_from is not None else None,
            self.created_at < filters.created_to if filters.created_to is not None else None,
            self.amount >= filters.amount_min if filters.amount_min is not None else None,
            self.amount <= filters.amount_max if filters.amount_max is not None else None,
            self.reason == filters.reason if filters.reason is not None else None,
            self.currency == filters.currency.upper() if filters.currency is not None else None,
        ]
        return query.where(*(c for c in conditions if c is not None))

    def sort_column(self, sort: Sort) -> sa.ColumnElement:
        return self.created_at if sort == "created_at" else self.amount


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _money(amount_minor: int, currency: str) -> dict[str, Any]:
    return {"amount_minor": amount_minor, "currency": currency, "amount": decimal_string(amount_minor, currency)}


def _refund_item(row: sa.Row) -> dict[str, Any]:
    refund: Refund = row.Refund
    return {
        "refund_id": str(refund.id),
        "payment_id": str(refund.payment_id),
        "creator_id": row.creator_id,
        **_money(refund.amount_minor, refund.currency),
        "creator_clawback_minor": refund.creator_clawback_minor,
        "status": refund.status,
        "reason": refund.reason,
        "stripe_refund_id": refund.stripe_refund_id,
        "requested_by": refund.requested_by,
        "failure_reason": refund.failure_reason,
        "created_at": _iso(refund.created_at),
        "updated_at": _iso(refund.updated_at),
    }


def _refund_csv(row: sa.Row) -> Sequence[object]:
    refund: Refund = row.Refund
    return (
        refund.id, refund.payment_id, row.creator_id, refund.status,
        decimal_string(refund.amount_minor, refund.currency), refund.currency,
        decimal_string(refund.creator_clawback_minor, refund.currency),
        refund.reason, refund.stripe_refund_id, refund.requested_by, refund.failure_reason,
        _iso(refund.created_at), _iso(refund.updated_at),
    )


def _dispute_item(row: sa.Row) -> dict[str, Any]:
    dispute: Dispute = row.Dispute
    return {
        "dispute_id": str(dispute.id),
        "payment_id": str(dispute.payment_id),
        "creator_id": dispute.creator_id,
        "stripe_dispute_id": dispute.stripe_dispute_id,
        **_money(dispute.amount_minor, dispute.currency),
        "creator_share_minor": dispute.creator_share_minor,
        "status": dispute.status,
        "closed": dispute.closed,
        "outcome": dispute.outcome,
        "reason": dispute.reason,
        "evidence_due_by": _iso(dispute.evidence_due_by),
        "created_at": _iso(dispute.created_at),
        "updated_at": _iso(dispute.updated_at),
    }


def _dispute_csv(row: sa.Row) -> Sequence[object]:
    dispute: Dispute = row.Dispute
    share = dispute.creator_share_minor
    return (
        dispute.id, dispute.payment_id, dispute.creator_id, dispute.stripe_dispute_id, dispute.status,
        dispute.outcome, decimal_string(dispute.amount_minor, dispute.currency), dispute.currency,
        decimal_string(share, dispute.currency) if share is not None else None,
        dispute.reason, _iso(dispute.evidence_due_by), _iso(dispute.created_at), _iso(dispute.updated_at),
    )


REFUNDS = View(
    name="refunds",
    select=lambda: sa.select(Refund, Payment.creator_id).join(Payment, Payment.id == Refund.payment_id),
    id=Refund.id,
    created_at=Refund.created_at,
    amount=Refund.amount_minor,
    status=Refund.status,
    currency=Refund.currency,
    creator_id=Payment.creator_id,
    reason=Refund.reason,
    normalize_status=str.upper,  # ours: PENDING, SUCCEEDED, ...
    item=_refund_item,
    csv_header=("refund_id", "payment_id", "creator_id", "status", "amount", "currency", "creator_clawback",
                "reason", "stripe_refund_id", "requested_by", "failure_reason", "created_at", "updated_at"),
    csv_row=_refund_csv,
)

DISPUTES = View(
    name="disputes",
    select=lambda: sa.select(Dispute),
    id=Dispute.id,
    created_at=Dispute.created_at,
    amount=Dispute.amount_minor,
    status=Dispute.status,
    currency=Dispute.currency,
    creator_id=Dispute.creator_id,
    reason=Dispute.reason,
    normalize_status=str.lower,  # Stripe's: needs_response, won, ...
    item=_dispute_item,
    csv_header=("dispute_id", "payment_id", "creator_id", "stripe_dispute_id", "status", "outcome", "amount",
                "currency", "creator_share", "reason", "evidence_due_by", "created_at", "updated_at"),
    csv_row=_dispute_csv,
)


def _page_query(view: View, filters: Filters, sort: Sort, order: Order,
                after: tuple[datetime | int, uuid.UUID] | None, limit: int) -> sa.Select:
    column = view.sort_column(sort)
    query = view.filtered(view.select(), filters)
    if after is not None:
        key = sa.tuple_(column, view.id)
        query = query.where(key > sa.tuple_(*after) if order == "asc" else key < sa.tuple_(*after))
    direction = sa.asc if order == "asc" else sa.desc
    return query.order_by(direction(column), direction(view.id)).limit(limit)


def _key(row: sa.Row, sort: Sort) -> tuple[datetime | int, uuid.UUID]:
    record = row[0]
    return (record.created_at if sort == "created_at" else record.amount_minor), record.id


async def _listing(
    view: View, request: Request, db: Database, who: Identity, filters: Filters,
    sort: Sort, order: Order, limit: int, cursor: str | None, format: str | None,
) -> Response:
    require_role(who, "admin")
    if filters.created_from and filters.created_to and filters.created_from > filters.created_to:
        raise problem(400, "Invalid date range", "created_from is after created_to")
    if format == "csv" or format is None and "text/csv" in request.headers.get("accept", ""):
        return Stream(
            csv_export.lines(view.csv_header, _all_rows(view, db, filters, sort, order)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{view.name}.csv"'},
        )
    try:
        after = cursors.decode(cursor, sort, order) if cursor is not None else None
    except cursors.InvalidCursor as error:
        raise problem(400, "Invalid cursor", str(error)) from error
    async with db.transaction() as session:
        rows = list(await session.execute(_page_query(view, filters, sort, order, after, limit + 1)))
    page, more = rows[:limit], len(rows) > limit
    next_cursor = cursors.encode(sort, order, *_key(page[-1], sort)) if more else None
    return Response({"items": [view.item(row) for row in page], "next_cursor": next_cursor})


async def _all_rows(view: View, db: Database, filters: Filters, sort: Sort, order: Order) -> AsyncIterator[sa.Row]:
    """Every matching row, page by page: no transaction stays open while the client reads."""
    after = None
    while True:
        async with db.transaction() as session:
            rows = list(await session.execute(_page_query(view, filters, sort, order, after, CSV_PAGE)))
        for row in rows:
            yield view.csv_row(row)
        if len(rows) < CSV_PAGE:
            return
        after = _key(rows[-1], sort)


async def _stats(view: View, db: Database, who: Identity, filters: Filters) -> dict[str, Any]:
    require_role(who, "admin")
    totals = view.select().with_only_columns(
        view.status, view.currency, sa.func.count(), sa.func.coalesce(sa.func.sum(view.amount), 0)
    )
    query = view.filtered(totals, filters)
    async with db.transaction() as session:
        rows = await session.execute(
            query.group_by(view.status, view.currency).order_by(view.status, view.currency)
        )
        return {
            "stats": [
                {"status": status, "count": count, **_money(int(total), currency)}
                for status, currency, count, total in rows
            ]
        }


StatusQuery = Annotated[list[str] | None, QueryParameter(description="repeat for several")]
CreatedFromQuery = Annotated[datetime | None, QueryParameter(description="inclusive, ISO 8601")]
CreatedToQuery = Annotated[datetime | None, QueryParameter(description="exclusive, ISO 8601")]
AmountMinQuery = Annotated[int | None, QueryParameter(ge=0, description="minor units, inclusive")]
AmountMaxQuery = Annotated[int | None, QueryParameter(ge=0, description="minor units, inclusive")]
LimitQuery = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)]


def _filters(
    status: StatusQuery = None, creator_id: FromQuery[str | None] = None, created_from: CreatedFromQuery = None,
    created_to: CreatedToQuery = None, amount_min: AmountMinQuery = None, amount_max: AmountMaxQuery = None,
    reason: FromQuery[str | None] = None, currency: CurrencyQuery = None,
) -> Filters:
    """The filters every view takes from the query (lists and stats alike)."""
    return Filters(tuple(status or ()), creator_id, created_from, created_to, amount_min, amount_max, reason, currency)


FILTERED = {"filters": Provide(_filters, sync_to_thread=False)}
FiltersDep = NamedDependency[Filters]


@get("/admin/refunds", dependencies=FILTERED)
async def list_refunds(
    request: Request, db: DatabaseDep, who: IdentityDep, filters: FiltersDep,
    sort: FromQuery[Sort] = "created_at", order: FromQuery[Order] = "desc", limit: LimitQuery = 50,
    cursor: FromQuery[str | None] = None, format: FromQuery[Literal["json", "csv"] | None] = None,
) -> Response:
    """Refunds, newest first by default; `?format=csv` (or Accept: text/csv) streams them all."""
    return await _listing(REFUNDS, request, db, who, filters, sort, order, limit, cursor, format)


@get("/admin/disputes", dependencies=FILTERED)
async def list_disputes(
    request: Request, db: DatabaseDep, who: IdentityDep, filters: FiltersDep,
    sort: FromQuery[Sort] = "created_at", order: FromQuery[Order] = "desc", limit: LimitQuery = 50,
    cursor: FromQuery[str | None] = None, format: FromQuery[Literal["json", "csv"] | None] = None,
) -> Response:
    """Disputes, newest first by default; `?format=csv` (or Accept: text/csv) streams them all."""
    return await _listing(DISPUTES, request, db, who, filters, sort, order, limit, cursor, format)


@get("/admin/refunds/stats", dependencies=FILTERED)
async def refund_stats(db: DatabaseDep, who: IdentityDep, filters: FiltersDep) -> dict[str, Any]:
    """Count and sum of the refunds per status and currency (the list's filters apply)."""
    return await _stats(REFUNDS, db, who, filters)


@get("/admin/disputes/stats", dependencies=FILTERED)
async def dispute_stats(db: DatabaseDep, who: IdentityDep, filters: FiltersDep) -> dict[str, Any]:
    """Count and sum of the disputes per status and currency (the list's filters apply)."""
    return await _stats(DISPUTES, db, who, filters)


route_handlers = [list_refunds, list_disputes, refund_stats, dispute_stats]
