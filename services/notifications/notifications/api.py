"""Notifications' internal HTTP API, called by the gateway only."""

from typing import Annotated
from uuid import UUID

from litestar import get, patch
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.plugins.problem_details import ProblemDetailsException

from common.db import Database
from common.http import Identity
from notifications import domain, models


def _item(seen: models.Seen) -> dict:
    notification = seen.notification
    return {
        "id": str(notification.id),
        "type": notification.type,
        "title": notification.title,
        "body": notification.body,
        "link": notification.link,
        "recipient_user_id": notification.recipient_user_id,
        "recipient_role": notification.recipient_role,
        "created_at": notification.created_at.isoformat(),
        "read_at": seen.read_at.isoformat() if seen.read_at else None,
    }


@get("/notifications")
async def list_notifications(
    db: Database,
    who: Identity,
    limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
    cursor: str | None = None,
    unread: bool = False,
) -> dict:
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    try:
        after = domain.decode_cursor(cursor) if cursor is not None else None
    except domain.InvalidCursor as error:
        raise ProblemDetailsException(status_code=400, title="Invalid cursor", detail=str(error)) from error
    async with db.transaction() as session:
        # One row more than asked tells whether another page exists.
        rows = await models.list_notifications(session, who, unread_only=unread, limit=limit + 1, after=after)
    page, more = rows[:limit], len(rows) > limit
    last = page[-1].notification if more else None
    next_cursor = domain.encode_cursor(last.created_at, last.id) if last else None
    return {"items": [_item(n) for n in page], "next_cursor": next_cursor}


@get("/notifications/unread-count")
async def unread_count(db: Database, who: Identity) -> dict:
    async with db.transaction() as session:
        unread = await models.count_unread(session, who)
    return {"unread": unread}


@patch("/notifications/{notification_id:uuid}/read")
async def mark_read(notification_id: UUID, db: Database, who: Identity) -> dict:
    """Read by the caller only: another admin still sees a role notification unread."""
    async with db.transaction() as session:
        seen = await models.mark_read(session, who, notification_id)
    if seen is None:  # someone else's is as absent as one that never existed
        raise NotFoundException("no such notification")
    return _item(seen)


@patch("/notifications/read-all")
async def mark_all_read(db: Database, who: Identity) -> dict:
    async with db.transaction() as session:
        marked = await models.mark_all_read(session, who)
    return {"marked": marked}


route_handlers = [list_notifications, unread_count, mark_read, mark_all_read]
