"""The notification center inside the service against the real PostgreSQL,
Kafka and an SMTP server: email deliveries, preferences, delete, type filter,
unsubscribe links and retention."""

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from common.db import Database
from contracts.events.payments import PaymentSucceeded, PaymentSucceededData
from contracts.events.refunds import RefundFailed, RefundFailedData
from notifications import models, tokens
from notifications.domain import NotificationDraft, NotificationType
from notifications.settings import Settings
from tests.support.internal_calls import as_caller
from tests.support.mail import ONE_CLICK, list_unsubscribe_url, raw_header


def headers(user_id: str, role: str = "creator", email: str | None = None) -> dict[str, str]:
    return as_caller("notifications", user_id, role, email=email)


def person(prefix: str = "creator") -> tuple[str, str]:
    user = f"{prefix}_{uuid.uuid4().hex[:8]}"
    return user, f"{user}@example.test"


def payment(creator_id: str, price: int = 10000, share: int = 8500) -> PaymentSucceeded:
    return PaymentSucceeded.new(
        PaymentSucceededData(
            payment_id=f"pay_{uuid.uuid4().hex[:10]}", fan_id="fan_1", creator_id=creator_id, price_minor=price,
            creator_share_minor=share, platform_fee_minor=price - share, currency="EUR",
            stripe_payment_intent_id=f"pi_{uuid.uuid4().hex[:10]}", succeeded_at=datetime.now(UTC),
        ),
        producer="payments", creator_id=creator_id,
    )


def refund_failed(creator_id: str) -> RefundFailed:
    return RefundFailed.new(
        RefundFailedData(refund_id=f"ref_{uuid.uuid4().hex[:8]}", payment_id=f"pay_{uuid.uuid4().hex[:8]}",
                         creator_id=creator_id, amount_minor=500, currency="EUR", creator_clawback_minor=425,
                         failure_reason="expired_or_canceled_card", was_succeeded=False),
        producer="payments", creator_id=creator_id,
    )


async def eventually(check: Callable[[], Awaitable[Any] | Any], *, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        await asyncio.sleep(0.1)


async def introduce(client, user: str, email: str, role: str = "creator") -> None:
    """An authenticated call through the gateway, which records the address."""
    response = await client.get("/notifications/unread-count", headers=headers(user, role, email))
    assert response.status_code == 200, response.text


async def deliveries(db: Database, user: str) -> list[models.EmailDelivery]:
    async with db.transaction() as session:
        return list(await session.scalars(
            sa.select(models.EmailDelivery).where(models.EmailDelivery.user_id == user).order_by(models.EmailDelivery.id)
        ))


async def unread(client, user: str, role: str = "creator") -> int:
    response = await client.get("/notifications/unread-count", headers=headers(user, role))
    assert response.status_code == 200, response.text
    return response.json()["unread"]


async def listed(client, user: str, role: str = "creator", **params: Any) -> list[dict]:
    response = await client.get("/notifications", params=params, headers=headers(user, role))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def seed(db: Database, user: str, *types: NotificationType) -> None:
    async with db.transaction() as session:
        for type_ in types:
            await models.add_notifications(session, {uuid.uuid4(): [NotificationDraft(
                type=type_, title="t", body="b", link=None, recipient_user_id=user)]})


# --- email -------------------------------------------------------------------------


async def test_a_notification_is_emailed_with_text_and_html_parts(client, publish_events, mail_server, db) -> None:
    creator, email = person()
    await introduce(client, creator, email)
    event = payment(creator)
    await publish_events(event)

    [message] = await eventually(lambda: mail_server.to(email))
    assert message["Subject"] == "New payment received"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "You earned 85.00 EUR from a payment of 100.00 EUR" in plain
    assert "You earned 85.00 EUR from a payment of 100.00 EUR" in html
    assert f"/payments/{event.data.payment_id}" in plain
    link = urlsplit(list_unsubscribe_url(message))
    assert f"{link.scheme}://{link.netloc}" == Settings().public_url
    assert link.path == "/api/notifications/unsubscribe"
    assert raw_header(message, "List-Unsubscribe-Post") == ONE_CLICK
    [delivery] = await deliveries(db, creator)
    assert (delivery.status, delivery.attempts, delivery.to_address) == ("SENT", 1, email)
    assert delivery.sent_at is not None


async def test_an_opted_out_type_sends_no_email(client, publish_events, mail_server, db) -> None:
    creator, email = person()
    await introduce(client, creator, email)
    response = await client.put("/notifications/preferences", headers=headers(creator),
                                json={"preferences": [{"type": "PAYMENT_RECEIVED", "email": False}]})
    assert response.status_code == 200, response.text
    await publish_events(payment(creator))

    # Emails are queued in the transaction that makes the notification: once it
    # is listed, its deliveries (none) are final.
    await eventually(lambda: listed(client, creator, type="PAYMENT_RECEIVED"))
    assert await deliveries(db, creator) == []
    assert mail_server.to(email) == []


async def test_admins_notification_is_emailed_to_each_admin_with_an_address(client, publish_events, mail_server,
                                                                            db) -> None:
    (first, first_email), (second, second_email) = person("admin"), person("admin")
    await introduce(client, first, first_email, "admin")
    await introduce(client, second, second_email, "admin")
    await publish_events(refund_failed(f"creator_{uuid.uuid4().hex[:8]}"))
    await eventually(lambda: mail_server.to(first_email) and mail_server.to(second_email))
    [message] = mail_server.to(first_email)
    assert message["Subject"] == "A refund failed"
    assert "expired_or_canceled_card" in message.get_body(("plain",)).get_content()


async def admin_emails_to(db: Database, *users: str) -> dict[str, int]:
    async with db.transaction() as session:
        rows = await session.execute(
            sa.select(models.EmailDelivery.user_id, sa.func.count())
            .join(models.Notification, models.Notification.id == models.EmailDelivery.notification_id)
            .where(models.EmailDelivery.user_id.in_(users), models.Notification.recipient_role == "admin")
            .group_by(models.EmailDelivery.user_id)
        )
        return {user: count for user, count in rows}


async def test_an_admin_seen_as_a_creator_since_gets_no_admins_email(client, publish_events, db) -> None:
    (admin, admin_email), (demoted, demoted_email), (quiet, quiet_email) = (person("admin") for _ in range(3))
    for user, email in ((admin, admin_email), (demoted, demoted_email), (quiet, quiet_email)):
        await introduce(client, user, email, "admin")
    await client.get("/notifications", headers=headers(demoted, "creator", demoted_email))
    # A token without an email claim says who they are all the same.
    await client.get("/notifications", headers=headers(quiet, "creator"))

    await publish_events(refund_failed(f"creator_{uuid.uuid4().hex[:8]}"))
    # Emails are queued in the transaction that makes the notification.
    await eventually(lambda: admin_emails_to(db, admin))
    assert await admin_emails_to(db, admin, demoted, quiet) == {admin: 1}


async def test_an_admin_not_seen_for_longer_than_the_bound_gets_no_admins_email(client, publish_events, db) -> None:
    (seen, seen_email), (gone, gone_email) = person("admin"), person("admin")
    await introduce(client, seen, seen_email, "admin")
    await introduce(client, gone, gone_email, "admin")
    async with db.transaction() as session:
        believed = await session.scalar(
            sa.select(models.Contact.role_expires_at - sa.func.now()).where(models.Contact.user_id == gone))
        # Time passes for `gone` only: what their last call said runs out.
        await session.execute(sa.update(models.Contact).where(models.Contact.user_id == gone)
                              .values(role_expires_at=sa.func.now() - timedelta(seconds=1)))
    bound = timedelta(hours=Settings().role_ttl_hours)
    assert bound - timedelta(minutes=5) < believed <= bound

    await publish_events(refund_failed(f"creator_{uuid.uuid4().hex[:8]}"))
    await eventually(lambda: admin_emails_to(db, seen))
    assert await admin_emails_to(db, seen, gone) == {seen: 1}

    await introduce(client, gone, gone_email, "admin")  # seen again: believed again
    await publish_events(refund_failed(f"creator_{uuid.uuid4().hex[:8]}"))
    assert (await eventually(lambda: admin_emails_to(db, gone))) == {gone: 1}


async def test_smtp_down_then_up_delivers_every_email_exactly_once(client, publish_events, mail_server, db) -> None:
    creator, email = person()
    await introduce(client, creator, email)
    mail_server.down()
    try:
        events = [payment(creator, price=1000 * (n + 1), share=850 * (n + 1)) for n in range(3)]
        await publish_events(*events)

        async def all_failed_once() -> bool:
            rows = await deliveries(db, creator)
            return len(rows) == 3 and all(r.status == "PENDING" and r.attempts >= 1 and r.last_error for r in rows)

        await eventually(all_failed_once)
        assert "unreachable" in (await deliveries(db, creator))[0].last_error
    finally:
        mail_server.up()

    async def all_sent() -> bool:
        return all(r.status == "SENT" for r in await deliveries(db, creator))

    await eventually(all_sent)
    await asyncio.sleep(1.5)  # past the retry cap: a second copy would have gone by now
    received = mail_server.to(email)
    assert len(received) == 3
    assert len({m["Message-ID"] for m in received}) == 3
    bodies = sorted(m.get_body(("plain",)).get_content().splitlines()[2] for m in received)
    assert bodies == sorted(f"You earned {8.5 * (n + 1):.2f} EUR from a payment of {10 * (n + 1):.2f} EUR"
                            for n in range(3))


async def test_someone_never_seen_gets_no_email(client, publish_events, db) -> None:
    creator, _ = person()
    event = payment(creator)
    await publish_events(event)
    await eventually(lambda: unread(client, creator))
    assert await deliveries(db, creator) == []


async def test_the_address_follows_the_latest_call(client, db) -> None:
    user, email = person()
    await introduce(client, user, email)
    await introduce(client, user, "new-" + email)
    await client.get("/notifications", headers=headers(user, email="not an address"))
    async with db.transaction() as session:
        contact = await session.get(models.Contact, user)
    assert (contact.email, contact.role) == ("new-" + email, "creator")


async def test_addresses_are_parsed_before_they_are_stored(client, db) -> None:
    user, email = person()
    await introduce(client, user, email)
    # Each passes a loose "one @, no spaces" check; none is an address we can send to.
    for bad in ("poison@[example", "dot@example..test", "dot@example.", "a,b@example.test", "x@y@example.test"):
        await client.get("/notifications", headers=headers(user, email=bad))
    await introduce(client, user, f"{user}(a comment)@example.test")  # parsed: the address without it
    async with db.transaction() as session:
        contact = await session.get(models.Contact, user)
    assert contact.email == email


async def contact_behind_our_back(db: Database, user: str, email: str, role: str = "creator") -> None:
    """A contact stored as it is, as one stored before addresses were parsed."""
    async with db.transaction() as session:
        await session.execute(insert(models.Contact).values(user_id=user, email=email, role=role))


async def test_a_poison_delivery_fails_with_its_reason_and_the_next_one_is_delivered(client, publish_events,
                                                                                     mail_server, db) -> None:
    poisoned, _ = person()
    fine, fine_email = person()
    # The message builder raises on this address (email.headerregistry cannot fold it).
    await contact_behind_our_back(db, poisoned, f"{poisoned}@[example")
    await introduce(client, fine, fine_email)
    await publish_events(payment(poisoned))
    await eventually(lambda: deliveries(db, poisoned))
    await publish_events(payment(fine))

    [message] = await eventually(lambda: mail_server.to(fine_email), timeout=15)
    assert message["Subject"] == "New payment received"

    async def failed():
        rows = await deliveries(db, poisoned)
        return rows if rows[0].status == "FAILED" else None

    [poison] = await eventually(failed)
    assert (poison.attempts, poison.sent_at) == (1, None)
    assert poison.last_error.startswith("cannot be composed: ")
    [sent] = await deliveries(db, fine)
    assert sent.status == "SENT"


# --- preferences ---------------------------------------------------------------


async def test_preferences_default_to_both_channels_and_name_the_critical_types(client) -> None:
    user, _ = person()
    response = await client.get("/notifications/preferences", headers=headers(user))
    assert response.status_code == 200, response.text
    prefs = {p["type"]: p for p in response.json()["preferences"]}
    assert set(prefs) == {t.value for t in NotificationType}
    assert all(p["in_app"] and p["email"] for p in prefs.values())
    assert {t for t, p in prefs.items() if p["in_app_required"]} == {"PAYOUT_FAILED", "DISPUTE_CREATED"}


async def test_invalid_preferences_are_refused_and_change_nothing(client) -> None:
    user, _ = person()
    before = (await client.get("/notifications/preferences", headers=headers(user))).json()
    for body, status in [
        ({"preferences": [{"type": "PAYOUT_FAILED", "in_app": False}]}, 422),
        ({"preferences": [{"type": "PAYOUT_PAID", "email": False}, {"type": "NOPE", "email": False}]}, 422),
        ({"preferences": [{"type": "PAYOUT_PAID", "email": "off"}]}, 422),
        ({"prefs": []}, 422),
    ]:
        response = await client.put("/notifications/preferences", headers=headers(user), json=body)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    response = await client.put("/notifications/preferences", headers={**headers(user),
                                "Content-Type": "application/json"}, content=b"{not json")
    assert response.status_code == 400, response.text
    assert (await client.get("/notifications/preferences", headers=headers(user))).json() == before


async def test_turning_a_type_off_in_the_app_hides_it_from_list_and_count(client, db) -> None:
    user, _ = person()
    await seed(db, user, NotificationType.PAYOUT_PAID, NotificationType.PAYOUT_PAID, NotificationType.DEBT_SETTLED)
    response = await client.put("/notifications/preferences", headers=headers(user),
                                json={"preferences": [{"type": "PAYOUT_PAID", "in_app": False}]})
    assert response.status_code == 200, response.text
    prefs = {p["type"]: p for p in response.json()["preferences"]}
    assert (prefs["PAYOUT_PAID"]["in_app"], prefs["PAYOUT_PAID"]["email"]) == (False, True)
    assert [n["type"] for n in await listed(client, user)] == ["DEBT_SETTLED"]
    assert await unread(client, user) == 1

    await client.put("/notifications/preferences", headers=headers(user),
                     json={"preferences": [{"type": "PAYOUT_PAID", "in_app": True}]})
    assert await unread(client, user) == 3


# --- delete and filter -------------------------------------------------------------


async def test_delete_hides_a_notification_and_only_the_owner_can(client, db) -> None:
    user, _ = person()
    other, _ = person()
    await seed(db, user, NotificationType.PAYOUT_PAID, NotificationType.PAYOUT_PAID)
    first, second = await listed(client, user)

    assert (await client.delete(f"/notifications/{first['id']}", headers=headers(other))).status_code == 404
    assert await unread(client, user) == 2
    response = await client.delete(f"/notifications/{first['id']}", headers=headers(user))
    assert response.status_code == 204, response.text
    assert [n["id"] for n in await listed(client, user)] == [second["id"]]
    assert await unread(client, user) == 1
    assert (await client.delete(f"/notifications/{first['id']}", headers=headers(user))).status_code == 404
    assert (await client.patch(f"/notifications/{first['id']}/read", headers=headers(user))).status_code == 404
    assert (await client.delete(f"/notifications/{uuid.uuid4()}", headers=headers(user))).status_code == 404


async def test_an_admin_deletes_an_admins_notification_for_themselves_only(client, db) -> None:
    (first, _), (second, _) = person("admin"), person("admin")
    async with db.transaction() as session:
        [made] = await models.add_notifications(session, {uuid.uuid4(): [NotificationDraft(
            type=NotificationType.PAYOUT_REQUESTED, title="t", body="b", link=None, recipient_role="admin")]})
    assert (await client.delete(f"/notifications/{made.id}", headers=headers(first, "admin"))).status_code == 204
    assert str(made.id) not in [n["id"] for n in await listed(client, first, "admin", type="PAYOUT_REQUESTED")]
    assert str(made.id) in [n["id"] for n in await listed(client, second, "admin", type="PAYOUT_REQUESTED")]


async def test_the_list_filters_by_type(client, db) -> None:
    user, _ = person()
    await seed(db, user, NotificationType.PAYOUT_PAID, NotificationType.DEBT_SETTLED, NotificationType.PAYOUT_FAILED)
    assert {n["type"] for n in await listed(client, user, type="PAYOUT_PAID")} == {"PAYOUT_PAID"}
    both = await client.get("/notifications", params=[("type", "PAYOUT_PAID"), ("type", "DEBT_SETTLED")],
                            headers=headers(user))
    assert {n["type"] for n in both.json()["items"]} == {"PAYOUT_PAID", "DEBT_SETTLED"}
    response = await client.get("/notifications", params={"type": "NOPE"}, headers=headers(user))
    assert response.status_code == 400, response.text


# --- unsubscribe ---------------------------------------------------------------------


def _token(user: str, type_: NotificationType, *, secret: str | None = None, ttl_s: int = 600,
           now: int | None = None) -> str:
    return tokens.sign(user, type_, secret=secret or Settings().unsubscribe_secret,
                       now=now or int(time.time()), ttl_s=ttl_s)


async def email_pref(client, user: str, type_: str) -> bool:
    prefs = (await client.get("/notifications/preferences", headers=headers(user))).json()["preferences"]
    return next(p["email"] for p in prefs if p["type"] == type_)


def link_holder() -> dict[str, str]:
    """What the gateway forwards an unsubscribe link as: no user behind it, the token is the credential."""
    return as_caller("notifications", "unsubscribe-link", "fan")


async def test_an_unsubscribe_links_page_asks_and_changes_nothing(client) -> None:
    user, _ = person()
    token = _token(user, NotificationType.PAYOUT_PAID)
    response = await client.get("/notifications/unsubscribe", headers=link_holder(), params={"token": token})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert "payout paid" in response.text
    form = re.search(r'<form method="post" action="([^"]+)">', response.text)
    assert form and form.group(1) == f"?token={token}"  # posts back to the link itself
    assert await email_pref(client, user, "PAYOUT_PAID") is True


async def test_a_one_click_post_turns_that_types_email_off_without_login(client) -> None:
    user, _ = person()
    response = await client.post("/notifications/unsubscribe", headers=link_holder(), content=ONE_CLICK,
                                 params={"token": _token(user, NotificationType.PAYOUT_PAID)})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert await email_pref(client, user, "PAYOUT_PAID") is False
    assert await email_pref(client, user, "PAYOUT_FAILED") is True


async def test_an_emails_list_unsubscribe_header_unsubscribes_in_one_click(client, publish_events, mail_server,
                                                                          db) -> None:
    creator, email = person()
    await introduce(client, creator, email)
    await publish_events(payment(creator))
    [message] = await eventually(lambda: mail_server.to(email))

    link = urlsplit(list_unsubscribe_url(message))
    assert raw_header(message, "List-Unsubscribe-Post") == ONE_CLICK
    path = link.path.removeprefix("/api")  # the gateway's public path, on the service itself
    fetched = await client.get(f"{path}?{link.query}", headers=link_holder())  # a mail scanner
    assert fetched.status_code == 200, fetched.text
    assert await email_pref(client, creator, "PAYMENT_RECEIVED") is True
    posted = await client.post(f"{path}?{link.query}", content=ONE_CLICK,
                               headers={**link_holder(), "Content-Type": "application/x-www-form-urlencoded"})
    assert posted.status_code == 200, posted.text
    assert await email_pref(client, creator, "PAYMENT_RECEIVED") is False


async def test_expired_or_forged_unsubscribe_links_are_refused_and_change_nothing(client) -> None:
    user, _ = person()
    expired = _token(user, NotificationType.PAYOUT_PAID, now=int(time.time()) - 1000, ttl_s=10)
    forged = _token(user, NotificationType.PAYOUT_PAID, secret="not-ours")
    for token in (expired, forged, "garbage"):
        for method in ("GET", "POST"):
            response = await client.request(method, "/notifications/unsubscribe", headers=link_holder(),
                                             params={"token": token})
            assert response.status_code == 400, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
    assert await email_pref(client, user, "PAYOUT_PAID") is True


# --- retention -----------------------------------------------------------------------


async def _age(db: Database, user: str, days: int) -> None:
    async with db.transaction() as session:
        await session.execute(sa.update(models.Notification).where(models.Notification.recipient_user_id == user)
                              .values(created_at=sa.func.now() - sa.text(f"interval '{days} days'")))


async def test_purge_deletes_only_notifications_past_retention(client, db) -> None:
    old, recent = person()[0], person()[0]
    await seed(db, old, NotificationType.PAYOUT_PAID)
    await seed(db, recent, NotificationType.PAYOUT_PAID)
    await _age(db, old, 366)
    await _age(db, recent, 364)
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "notifications", "purge"], env=dict(os.environ),
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "purged" in done.stdout
    assert await listed(client, old) == []
    assert len(await listed(client, recent)) == 1
