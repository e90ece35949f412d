"""The notification center through the gateway against the running stack:
email to the SMTP sink, the live stream, the unread count, preferences and the
polling contract."""

import asyncio
import json
import time
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

from gateway.auth import ALGORITHM, AUDIENCE, ISSUER
from stack.mail import read_messages
from tests.support.mail import ONE_CLICK, list_unsubscribe_url, raw_header
from tests.support.polling import eventually

from .conftest import Gateway, new_id, payment_intent_succeeded


def auth_with_email(gateway: Gateway, user_id: str, role: str, email: str) -> dict[str, str]:
    """A bearer token whose `email` claim the gateway hands to notifications."""
    now = int(time.time())
    claims = {"sub": user_id, "role": role, "email": email, "iss": ISSUER, "aud": AUDIENCE, "iat": now,
              "exp": now + 3600}
    return {"Authorization": f"Bearer {jwt.encode(claims, gateway.env['CALLASTAR_JWT_SECRET'], algorithm=ALGORITHM)}"}


async def pay(gateway: Gateway, creator: str, price_minor: int = 10000) -> dict[str, Any]:
    intent = await gateway.create_intent(new_id("fan"), creator, price_minor)
    response = await gateway.send_webhook(payment_intent_succeeded(intent))
    assert response.status_code == 200, response.text
    return intent


async def unread(gateway: Gateway, auth: dict[str, str]) -> int:
    response = await gateway.http.get("/api/notifications/unread-count", headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["unread"]


def mail_to(maildir, address: str) -> list[EmailMessage]:
    return [m for m in read_messages(maildir) if m["X-Callastar-Rcpt-To"] == address]


async def test_a_payment_is_emailed_to_the_creator_who_can_unsubscribe_without_login(gateway: Gateway, stack) -> None:
    creator = new_id("creator")
    email = f"{creator}@example.test"
    auth = auth_with_email(gateway, creator, "creator", email)
    assert await unread(gateway, auth) == 0  # the gateway passes the address on: now it is known

    intent = await pay(gateway, creator)

    async def mailed():
        return mail_to(stack.maildir, email)

    [message] = await eventually(mailed)
    assert message["Subject"] == "New payment received"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (plain, html):
        assert "You earned 85.00 EUR from a payment of 100.00 EUR" in part
    assert f"/payments/{intent['payment_id']}" in plain

    link = urlsplit(list_unsubscribe_url(message))  # exactly <url> on the wire, as a client reads it
    assert f"{link.scheme}://{link.netloc}" == stack.gateway_url.rstrip("/")
    assert link.path == "/api/notifications/unsubscribe"
    assert raw_header(message, "List-Unsubscribe-Post") == ONE_CLICK
    for method in ("GET", "POST"):
        forged = await gateway.http.request(method, link.path, params={"token": "e30.forged"})
        assert forged.status_code == 400, forged.text
        assert forged.headers["content-type"].startswith("application/problem+json")

    async def emails_on() -> bool:
        prefs = (await gateway.http.get("/api/notifications/preferences", headers=auth)).json()["preferences"]
        return next(p for p in prefs if p["type"] == "PAYMENT_RECEIVED")["email"]

    page = await gateway.http.get(f"{link.path}?{link.query}")  # what a mail scanner fetches: no login
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert '<form method="post"' in page.text
    assert await emails_on() is True

    # RFC 8058 one-click, as a mail client sends it: no Authorization header.
    response = await gateway.http.post(f"{link.path}?{link.query}", content=ONE_CLICK,
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text
    assert await emails_on() is False


class Stream:
    """Reads one user's live stream in the background."""

    def __init__(self, gateway: Gateway, auth: dict[str, str]) -> None:
        self.gateway, self.auth = gateway, auth
        self.events: list[tuple[str, dict, float]] = []  # (event, data, received at, unix seconds)
        self.task: asyncio.Task | None = None

    async def _read(self) -> None:
        async with self.gateway.http.stream("GET", "/api/notifications/stream", headers=self.auth,
                                            timeout=httpx.Timeout(30, read=None)) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            event = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    self.events.append((event, json.loads(line.removeprefix("data: ")), time.time()))

    async def __aenter__(self) -> "Stream":
        self.task = asyncio.create_task(self._read())
        await eventually(self._opened)
        return self

    async def _opened(self) -> bool:
        if self.task.done():
            self.task.result()  # surface why it ended
        return any(event == "unread" for event, _, _ in self.events)

    async def __aexit__(self, *_: object) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    def notifications(self) -> list[tuple[dict, float]]:
        return [(data, at) for event, data, at in self.events if event == "notification"]


async def test_the_live_stream_pushes_each_users_notifications_to_them_alone(gateway: Gateway) -> None:
    first, second = new_id("creator"), new_id("creator")
    async with Stream(gateway, gateway.auth(first, "creator")) as first_stream, \
            Stream(gateway, gateway.auth(second, "creator")) as second_stream:
        assert first_stream.events[0][:2] == ("unread", {"unread": 0})
        first_payment = await pay(gateway, first)
        second_payment = await pay(gateway, second, 20000)

        async def both_pushed():
            return first_stream.notifications() and second_stream.notifications()

        await eventually(both_pushed)
        await asyncio.sleep(0.5)  # anything misrouted would have arrived by now too

    [(pushed, received_at)] = first_stream.notifications()
    assert pushed["unread"] == 1
    assert pushed["notification"]["type"] == "PAYMENT_RECEIVED"
    assert pushed["notification"]["recipient_user_id"] == first
    assert pushed["notification"]["link"] == f"/payments/{first_payment['payment_id']}"
    # Pushed within a second or so of being made (same machine, same clock).
    assert received_at - datetime.fromisoformat(pushed["notification"]["created_at"]).timestamp() < 2.0
    [(pushed, _)] = second_stream.notifications()
    assert pushed["notification"]["recipient_user_id"] == second
    assert pushed["notification"]["link"] == f"/payments/{second_payment['payment_id']}"


async def test_read_read_all_and_delete_change_the_unread_count_exactly(gateway: Gateway) -> None:
    creator = new_id("creator")
    auth = gateway.auth(creator, "creator")
    for price in (1000, 2000, 3000):
        await pay(gateway, creator, price)

    async def three():
        return await unread(gateway, auth) == 3

    await eventually(three)
    items = (await gateway.http.get("/api/notifications", headers=auth)).json()["items"]
    assert len(items) == 3
    newest, middle, oldest = (item["id"] for item in items)

    assert (await gateway.http.patch(f"/api/notifications/{oldest}/read", headers=auth)).status_code == 200
    assert await unread(gateway, auth) == 2
    stranger = gateway.auth(new_id("creator"), "creator")
    assert (await gateway.http.delete(f"/api/notifications/{middle}", headers=stranger)).status_code == 404
    assert await unread(gateway, auth) == 2
    assert (await gateway.http.delete(f"/api/notifications/{middle}", headers=auth)).status_code == 204
    assert await unread(gateway, auth) == 1
    assert (await gateway.http.delete(f"/api/notifications/{oldest}", headers=auth)).status_code == 204
    assert await unread(gateway, auth) == 1  # it was read already
    marked = await gateway.http.patch("/api/notifications/read-all", headers=auth)
    assert marked.json() == {"marked": 1}
    assert await unread(gateway, auth) == 0
    assert await unread(gateway, stranger) == 0
    listing = (await gateway.http.get("/api/notifications", headers=auth)).json()["items"]
    assert [item["id"] for item in listing] == [newest]
    assert (await gateway.http.delete(f"/api/notifications/{middle}", headers=auth)).status_code == 404


async def test_polling_answers_304_until_something_changes(gateway: Gateway) -> None:
    creator = new_id("creator")
    auth = gateway.auth(creator, "creator")
    first = await gateway.http.get("/api/notifications/unread-count", headers=auth)
    etag = first.headers["ETag"]
    again = await gateway.http.get("/api/notifications/unread-count", headers={**auth, "If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", etag)

    await pay(gateway, creator)

    async def changed():
        response = await gateway.http.get("/api/notifications/unread-count", headers={**auth, "If-None-Match": etag})
        return response.status_code == 200 and response

    response = await eventually(changed)
    assert response.json() == {"unread": 1}
    assert response.headers["ETag"] != etag
    listing = await gateway.http.get("/api/notifications", headers=auth)
    cached = await gateway.http.get("/api/notifications", headers={**auth, "If-None-Match": listing.headers["ETag"]})
    assert cached.status_code == 304


async def test_preferences_through_the_gateway_refuse_bad_bodies(gateway: Gateway) -> None:
    auth = gateway.auth(new_id("creator"), "creator")
    critical = await gateway.http.put("/api/notifications/preferences", headers=auth,
                                      json={"preferences": [{"type": "PAYOUT_FAILED", "in_app": False}]})
    assert critical.status_code == 422, critical.text
    assert "critical" in critical.json()["detail"]
    malformed = await gateway.http.put("/api/notifications/preferences", headers={**auth,
                                       "Content-Type": "application/json"}, content=b"{nope")
    assert malformed.status_code == 400, malformed.text
    fine = await gateway.http.put("/api/notifications/preferences", headers=auth,
                                  json={"preferences": [{"type": "PAYOUT_FAILED", "email": False}]})
    assert fine.status_code == 200, fine.text
    failed = next(p for p in fine.json()["preferences"] if p["type"] == "PAYOUT_FAILED")
    assert failed == {"type": "PAYOUT_FAILED", "in_app": True, "email": False, "in_app_required": True}
