"""The caller's in-app notifications, from the notifications service, and their
live stream.

Polling contract (for clients that cannot hold the stream open): poll
`GET /api/notifications/unread-count` (and the first page of the list when it
changed) every 30 s, sending back the last `ETag` as `If-None-Match`. While
nothing changed the answer is `304 Not Modified` with no body. The ETag is a
digest of the answer, so any change (a new notification, a read elsewhere, a
delete) changes it.

Email addresses: a token may carry an `email` claim; every call passes it on in
the identity the gateway signs for the service, and the notifications service
keeps the latest one per user as where to send their (and, for admins, the
admins') emails.
"""

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from litestar import Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, TooManyRequestsException
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from common.http import Identity
from gateway.clients import Services, path_segment
from gateway.live import LiveHub, TooManyStreams
from gateway.schemas.notifications import (MarkedRead, Notification, NotificationPage, NotificationType,
                                           Preferences, PreferencesChange, UnreadCount)
from gateway.schemas.problems import api_problems
from gateway.validation import READS_NO_BODY

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0  # a comment line this often keeps proxies from closing an idle stream
RETRY_MS = 3000  # how soon a browser's EventSource reconnects after a drop


def _etag(body: bytes) -> str:
    return f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'


def _cheap_to_poll(request: Request, answer: Response) -> Response:
    """Tag a 200 with an ETag; answer 304 with no body when the client has it."""
    if answer.status_code != 200 or not isinstance(answer.content, bytes):
        return answer
    etag = _etag(answer.content)
    sent = request.headers.get("If-None-Match", "")
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag in (tag.strip() for tag in sent.split(",")) or sent.strip() == "*":
        return Response(b"", status_code=304, headers=headers)
    answer.headers.update(headers)
    return answer


# A poll whose If-None-Match still holds: nothing changed, no body.
_NOT_MODIFIED = {304: ResponseSpec(None, description="Not changed since the ETag sent as If-None-Match")}


@get("/notifications", summary="List notifications, newest first (cursor pagination); ETag for polling",
     responses={**api_problems(), **_NOT_MODIFIED})
async def list_notifications(
    request: Request,
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
    cursor: FromQuery[str | None] = None,
    limit: Annotated[int | None, QueryParameter(ge=1)] = None,
    unread: FromQuery[bool | None] = None,
    type_: Annotated[list[NotificationType] | None, QueryParameter(name="type")] = None,
) -> Response[NotificationPage]:
    """`type=PAYOUT_PAID` (repeatable) keeps only those types."""
    params: list[tuple[str, str]] = [(k, str(v).lower() if isinstance(v, bool) else str(v))
                                     for k, v in {"cursor": cursor, "limit": limit, "unread": unread}.items()
                                     if v is not None]
    params += [("type", t) for t in type_ or ()]
    answer = await services.notifications.forward("GET", "/notifications", who, params=params)
    return _cheap_to_poll(request, answer)


@get("/notifications/unread-count", summary="How many notifications are unread; ETag for polling",
     responses={**api_problems(), **_NOT_MODIFIED})
async def unread_count(
    request: Request, who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[UnreadCount]:
    answer = await services.notifications.forward("GET", "/notifications/unread-count", who)
    return _cheap_to_poll(request, answer)


@patch("/notifications/{notification_id:str}/read", summary="Mark one notification read (for the caller)",
       responses=api_problems(404))
async def mark_read(
    request: Request, notification_id: FromPath[str], who: NamedDependency[Identity],
    services: NamedDependency[Services],
) -> Response[Notification]:
    """An admin's read of an admins' notification is theirs alone; another's id is a 404."""
    return await services.notifications.forward(
        "PATCH", f"/notifications/{path_segment(notification_id)}/read", who
    )


@patch("/notifications/read-all", summary="Mark everything the caller sees read", responses=api_problems())
async def mark_all_read(
    request: Request, who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[MarkedRead]:
    return await services.notifications.forward("PATCH", "/notifications/read-all", who)


@delete("/notifications/{notification_id:str}", status_code=204,
        summary="Delete one notification (for the caller: hidden from their lists and count)",
        responses={**api_problems(404), 204: ResponseSpec(None, description="Deleted (for the caller)")})
async def delete_notification(
    request: Request, notification_id: FromPath[str], who: NamedDependency[Identity],
    services: NamedDependency[Services],
) -> Response[None]:
    """Someone else's id, or one already deleted: 404."""
    return await services.notifications.forward(
        "DELETE", f"/notifications/{path_segment(notification_id)}", who
    )


@get("/notifications/preferences", summary="The caller's channels (in_app, email) per notification type",
     responses=api_problems())
async def get_preferences(
    request: Request, who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[Preferences]:
    return await services.notifications.forward("GET", "/notifications/preferences", who)


@put("/notifications/preferences", summary="Change channels per type; critical types stay on in the app",
     responses=api_problems(422, body=True))
async def put_preferences(
    request: Request, data: JSONBody[PreferencesChange], who: NamedDependency[Identity],
    services: NamedDependency[Services],
) -> Response[Preferences]:
    """`{"preferences": [{"type": "PAYOUT_PAID", "email": false}]}`. PAYOUT_FAILED and
    DISPUTE_CREATED cannot be turned off in the app (422)."""
    return await services.notifications.forward("PUT", "/notifications/preferences", who,
                                                json=data.model_dump(exclude_unset=True))


# The link in every email: the signed token says who and what, so no login. The
# service ignores the identity on these routes; the client only needs one to send.
_LINK_HOLDER = Identity(user_id="unsubscribe-link", role="fan")


# What a person following an email's link sees: a page, not JSON.
_HTML_PAGE = {200: ResponseSpec(str, media_type="text/html", description="A page for the person", generate_examples=False)}


def _not_stored(answer: Response) -> Response:
    # A page reached through a credential in its URL: no cache on the way keeps it.
    answer.headers["Cache-Control"] = "no-store"
    return answer


@get("/notifications/unsubscribe", opt={"exclude_from_auth": True}, security=[],
     summary="An email's unsubscribe link: a confirmation page, changing nothing (no login; bad token: 400)",
     responses={**api_problems(public=True), **_HTML_PAGE})
async def confirm_unsubscribe(token: FromQuery[str], services: NamedDependency[Services]) -> Response:
    """A GET changes nothing: mail scanners fetch every link in a message."""
    return _not_stored(await services.notifications.forward("GET", "/notifications/unsubscribe", _LINK_HOLDER,
                                                            params={"token": token}))


@post("/notifications/unsubscribe", opt={"exclude_from_auth": True, READS_NO_BODY: True}, security=[],
      status_code=200,
      summary="Stop one type's emails: the page's button or RFC 8058 one-click (no login; bad token: 400)",
      responses={**api_problems(public=True), **_HTML_PAGE})
async def unsubscribe(token: FromQuery[str], services: NamedDependency[Services]) -> Response:
    """The List-Unsubscribe URL, POSTed by a mail client (body `List-Unsubscribe=One-Click`)
    or by the confirmation page's form. The token in the URL is the only credential."""
    return _not_stored(await services.notifications.forward("POST", "/notifications/unsubscribe", _LINK_HOLDER,
                                                            params={"token": token}))


async def _fetch(services: Services, who: Identity, path: str) -> dict | None:
    answer = await services.notifications.forward("GET", path, who)
    return json.loads(answer.content) if answer.status_code == 200 else None


@get("/notifications/stream", summary="Server-sent events: each new notification and the new unread count",
     responses={**api_problems(meanings={429: "The caller already holds as many streams as allowed"}),
                200: ResponseSpec(str, media_type="text/event-stream", generate_examples=False,
                                  description="`unread` then `notification` events (data: JSON), comments as keep-alive")})
async def stream(
    who: NamedDependency[Identity], services: NamedDependency[Services], live: NamedDependency[LiveHub]
) -> ServerSentEvent:
    """First an `unread` event with the count, then a `notification` event
    `{"notification": {...}, "unread": n}` per new notification the caller sees,
    and a comment every 15 s. After a reconnect, refetch the list."""
    try:
        subscription = live.subscribe(who)  # before the first count: nothing published from now on is missed
    except TooManyStreams as exc:
        raise TooManyRequestsException(str(exc)) from exc
    try:
        first = await _fetch(services, who, "/notifications/unread-count")
    except BaseException:
        live.unsubscribe(subscription)
        raise

    async def events() -> AsyncIterator[ServerSentEventMessage]:
        try:
            yield ServerSentEventMessage(event="unread", data=json.dumps(first), retry=RETRY_MS)
            while True:
                try:
                    created = await asyncio.wait_for(subscription.queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ServerSentEventMessage(comment="keep-alive")
                    continue
                try:
                    # As the caller: absent if they deleted it or turned its type off in the app.
                    item, count = await asyncio.gather(
                        _fetch(services, who, f"/notifications/{created.notification_id}"),
                        _fetch(services, who, "/notifications/unread-count"),
                    )
                except HTTPException as exc:  # the service is away: this one is in the next list fetch
                    log.warning("live push of %s to %s skipped: %s", created.notification_id, who.user_id, exc)
                    continue
                if item is not None and count is not None:
                    yield ServerSentEventMessage(event="notification", id=created.notification_id,
                                                 data=json.dumps({"notification": item, **count}))
        finally:
            live.unsubscribe(subscription)

    return ServerSentEvent(events())


route_handlers = [list_notifications, unread_count, mark_read, mark_all_read, delete_notification,
                  get_preferences, put_preferences, confirm_unsubscribe, unsubscribe, stream]
