"""The caller's in-app notifications, from the notifications service."""

from typing import Annotated

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from common.http import Identity
from gateway.clients import Services


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


route_handlers = [list_notifications, unread_count]
