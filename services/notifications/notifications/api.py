"""Notifications' internal HTTP API, called by the gateway only.

Every call that carries an identity also records that person's role and where
to email them: the identity the gateway signs carries the `email` claim of their
token, parsed and upserted into `contacts` (see models.Contact).
"""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from litestar import MediaType, Request, Response, delete, get, patch, post, put
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody, Parameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from common import cursors
from common.http import Identity, problem
from common.service import IdentityDep, Runtime, RuntimeDep
from notifications import domain, mailer, models, tokens

NEWEST_FIRST = ("created_at", "desc")  # the one order notifications are listed in


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


@asynccontextmanager
async def _as_caller(runtime: Runtime, request: Request, who: Identity) -> AsyncIterator[AsyncSession]:
    """The request's transaction, remembering the caller's role and address on the way
    (an address that does not parse is not stored)."""
    async with runtime.db.transaction() as session:
        email = domain.parse_address(who.email or "")
        await models.remember_caller(session, who, email, timedelta(hours=runtime.settings.role_ttl_hours))
        yield session


@get("/notifications")
async def list_notifications(
    request: Request,
    runtime: RuntimeDep,
    who: IdentityDep,
    limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
    cursor: FromQuery[str | None] = None,
    unread: FromQuery[bool] = False,
    type_: Annotated[list[str] | None, QueryParameter(name="type")] = None,
) -> dict:
    """Newest first; pass `next_cursor` back as `cursor` for the next page.
    `type=` (repeatable) keeps only those types."""
    try:
        after = cursors.decode(cursor, *NEWEST_FIRST) if cursor is not None else None
    except cursors.InvalidCursor as error:
        raise problem(400, "Invalid cursor", str(error)) from error
    try:
        types = [domain.NotificationType(t) for t in type_ or ()]
    except ValueError as error:
        raise problem(400, "Invalid type", f"unknown notification type: {error}") from error
    async with _as_caller(runtime, request, who) as session:
        # One row more than asked tells whether another page exists.
        rows = await models.list_notifications(session, who, unread_only=unread, limit=limit + 1, after=after,
                                               types=types)
    page, more = rows[:limit], len(rows) > limit
    last = page[-1].notification if more else None
    next_cursor = cursors.encode(*NEWEST_FIRST, last.created_at, last.id) if last else None
    return {"items": [_item(n) for n in page], "next_cursor": next_cursor}


@get("/notifications/unread-count")
async def unread_count(request: Request, runtime: RuntimeDep, who: IdentityDep) -> dict:
    async with _as_caller(runtime, request, who) as session:
        unread = await models.count_unread(session, who)
    return {"unread": unread}


@get("/notifications/{notification_id:uuid}")
async def get_notification(
    notification_id: FromPath[UUID], request: Request, runtime: RuntimeDep, who: IdentityDep
) -> dict:
    """One the caller sees (the gateway's live push checks each with it)."""
    async with _as_caller(runtime, request, who) as session:
        seen = await models.get_notification(session, who, notification_id)
    if seen is None:  # someone else's is as absent as one that never existed
        raise NotFoundException("no such notification")
    return _item(seen)


@patch("/notifications/{notification_id:uuid}/read")
async def mark_read(notification_id: FromPath[UUID], request: Request, runtime: RuntimeDep, who: IdentityDep) -> dict:
    """Read by the caller only: another admin still sees a role notification unread."""
    async with _as_caller(runtime, request, who) as session:
        seen = await models.mark_read(session, who, notification_id)
    if seen is None:
        raise NotFoundException("no such notification")
    return _item(seen)


@patch("/notifications/read-all")
async def mark_all_read(request: Request, runtime: RuntimeDep, who: IdentityDep) -> dict:
    async with _as_caller(runtime, request, who) as session:
        marked = await models.mark_all_read(session, who)
    return {"marked": marked}


@delete("/notifications/{notification_id:uuid}", status_code=204)
async def delete_notification(
    notification_id: FromPath[UUID], request: Request, runtime: RuntimeDep, who: IdentityDep
) -> None:
    """Soft: hidden from the caller's lists and count from now on (an admin
    deleting an admins' notification hides it from themselves only)."""
    async with _as_caller(runtime, request, who) as session:
        deleted = await models.delete_notification(session, who, notification_id)
    if not deleted:
        raise NotFoundException("no such notification")


def _preferences(preferences: list[domain.Preference]) -> dict:
    return {
        "preferences": [
            {"type": p.type.value, "in_app": p.in_app, "email": p.email,
             "in_app_required": p.type in domain.CRITICAL_IN_APP}
            for p in preferences
        ]
    }


@get("/notifications/preferences")
async def get_preferences(request: Request, runtime: RuntimeDep, who: IdentityDep) -> dict:
    """Every type with both channels; `in_app_required` types cannot be hidden in the app."""
    async with _as_caller(runtime, request, who) as session:
        return _preferences(await models.preferences_of(session, who.user_id))


@put("/notifications/preferences")
async def put_preferences(data: JSONBody[Any], request: Request, runtime: RuntimeDep, who: IdentityDep) -> dict:
    """`{"preferences": [{"type": "PAYOUT_PAID", "email": false}]}`: the channels named
    change, the rest keep their value. Invalid: 422 and nothing changes."""
    try:
        changes = domain.parse_preferences(data)
    except domain.InvalidPreferences as error:
        raise problem(422, "Invalid preferences", str(error)) from error
    async with _as_caller(runtime, request, who) as session:
        await models.set_preferences(session, who.user_id, changes)
        return _preferences(await models.preferences_of(session, who.user_id))


def _unsubscribing(token: str, runtime: Runtime) -> tokens.Unsubscribe:
    try:
        return tokens.verify(token, secret=runtime.settings.unsubscribe_secret, now=int(time.time()))
    except tokens.InvalidToken as error:
        raise problem(400, "Invalid unsubscribe link", str(error)) from error


def _page(template: str, **values: str) -> Response:
    # Pages for people following an email's link, never to be cached on the way.
    return Response(mailer.TEMPLATES.get_template(template).render(values), media_type=MediaType.HTML,
                    headers={"Cache-Control": "no-store"})


@get("/notifications/unsubscribe")
async def confirm_unsubscribe(token: FromQuery[str], runtime: RuntimeDep) -> Response:
    """An email's unsubscribe link: a page asking to confirm, changing nothing, so
    a mail scanner that fetches every link unsubscribes no one. No login: the
    signed token says who and which type."""
    found = _unsubscribing(token, runtime)
    return _page("unsubscribe.html", token=token, type_label=mailer.type_label(found.type))


@post("/notifications/unsubscribe", status_code=200)
async def unsubscribe(token: FromQuery[str], runtime: RuntimeDep) -> Response:
    """Turns that type's email off (the app's notifications stay): the page's
    button, or a mail client's RFC 8058 one-click POST to the List-Unsubscribe URL
    (whose body, `List-Unsubscribe=One-Click`, says nothing more)."""
    found = _unsubscribing(token, runtime)
    async with runtime.db.transaction() as session:
        await models.set_preferences(session, found.user_id, {found.type: {"email": False}})
    return _page("unsubscribed.html", type_label=mailer.type_label(found.type))


route_handlers = [list_notifications, unread_count, get_notification, mark_read, mark_all_read,
                  delete_notification, get_preferences, put_preferences, confirm_unsubscribe, unsubscribe]
