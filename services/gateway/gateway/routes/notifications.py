"""The caller's in-app notifications, from the notifications service."""

from typing import Annotated

from litestar import Response, get, patch
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from common.http import Identity
from gateway.clients import Services, path_segment


@get("/notifications", summary="List notifications, newest first (cursor pagination)")
async def list_notifications(
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
    cursor: FromQuery[str | None] = None,
    limit: Annotated[int | None, QueryParameter(ge=1)] = None,
    unread: FromQuery[bool | None] = None,
) -> Response:
    params = {"cursor": cursor, "limit": limit, "unread": unread}
    passed = {k: str(v).lower() if isinstance(v, bool) else str(v)
              for k, v in params.items() if v is not None}
    return await services.notifications.forward("GET", "/notifications", who, params=passed)


@get("/notifications/unread-count", summary="How many notifications are unread")
async def unread_count(
    who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await services.notifications.forward("GET", "/notifications/unread-count", who)


@patch("/notifications/{notification_id:str}/read", summary="Mark one notification read (for the caller)")
async def mark_read(
    notification_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    """An admin's read of an admins' notification is theirs alone; another's id is a 404."""
    return await services.notifications.forward(
        "PATCH", f"/notifications/{path_segment(notification_id)}/read", who
    )


@patch("/notifications/read-all", summary="Mark everything the caller sees read")
async def mark_all_read(
    who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await services.notifications.forward("PATCH", "/notifications/read-all", who)


route_handlers = [list_notifications, unread_count, mark_read, mark_all_read]
