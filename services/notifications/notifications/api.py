"""Notifications' internal HTTP API, called by the gateway only."""

from typing import Annotated

from litestar import get
from litestar.params import Parameter
from litestar.plugins.problem_details import ProblemDetailsException

from common.db import Database
from common.http import Identity
from notifications import domain, models


def _item(notification: models.Notification) -> dict:
    return {
        "id": str(notification.id),
        "type": notification.type,
        "title": notification.title,
        "body": notification.body,
        "link": notification.link,
        "recipient_user_id": notification.recipient_user_id,
        "recipient_role": notification.recipient_role,
        "created_at": notification.created_at.isoformat(),
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
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
        rows = await models.list_notifications(
            session, models.recipient_keys(who.user_id, who.role),
            unread_only=unread, limit=limit + 1, after=after,
        )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = domain.encode_cursor(page[-1].created_at, page[-1].id) if more else None
    return {"items": [_item(n) for n in page], "next_cursor": next_cursor}


@get("/notifications/unread-count")
async def unread_count(db: Database, who: Identity) -> dict:
    async with db.transaction() as session:
        unread = await models.count_unread(session, models.recipient_keys(who.user_id, who.role))
    return {"unread": unread}


route_handlers = [list_notifications, unread_count]
