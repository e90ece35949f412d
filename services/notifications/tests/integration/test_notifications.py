"""The PAYMENT_RECEIVED slice end to end inside the service: Kafka in, rows,
outbox out, and the internal API, against the real PostgreSQL and Kafka."""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer

from common.db import Database
from common.kafka import KafkaAccess
from contracts.events.notifications import NotificationCreated
from contracts.events.disputes import DisputeClosed, DisputeClosedData
from contracts.events.payments import PaymentSucceeded, PaymentSucceededData
from contracts.events.refunds import RefundFailed, RefundFailedData
from notifications import models
from notifications.domain import NotificationDraft, NotificationType
from tests.support.internal_calls import as_caller

def headers(user_id: str, role: str = "creator") -> dict[str, str]:
    return as_caller("notifications", user_id, role)


def payment(creator_id: str, price: int = 10000, share: int = 8500) -> PaymentSucceeded:
    return PaymentSucceeded.new(
        PaymentSucceededData(
            payment_id=f"pay_{uuid.uuid4().hex[:10]}",
            fan_id="fan_1",
            creator_id=creator_id,
            price_minor=price,
            creator_share_minor=share,
            platform_fee_minor=price - share,
            currency="EUR",
            stripe_payment_intent_id=f"pi_{uuid.uuid4().hex[:10]}",
            succeeded_at=datetime.now(UTC),
        ),
        producer="payments",
        creator_id=creator_id,
    )


def draft(recipient_user_id: str | None = None, recipient_role: str | None = None) -> NotificationDraft:
    return NotificationDraft(
        type=NotificationType.PAYMENT_RECEIVED,
        title="New payment received",
        body="You earned 0.85 EUR from a payment of 1.00 EUR",
        link=None,
        recipient_user_id=recipient_user_id,
        recipient_role=recipient_role,  # type: ignore[arg-type]
    )


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        await asyncio.sleep(0.1)
    return result


async def unread(client, user_id: str, role: str = "creator") -> int:
    response = await client.get("/notifications/unread-count", headers=headers(user_id, role))
    assert response.status_code == 200, response.text
    return response.json()["unread"]


async def rows_from(db: Database, source_event_id: uuid.UUID) -> int:
    async with db.transaction() as session:
        return await session.scalar(
            sa.select(sa.func.count()).where(models.Notification.source_event_id == source_event_id)
        )


async def seed(db: Database, user_id: str, count: int) -> None:
    """`count` notifications in one transaction, so they share one created_at."""
    async with db.transaction() as session:
        for _ in range(count):
            await models.add_notifications(session, {uuid.uuid4(): [draft(user_id)]})


async def announced(kafka: KafkaAccess, cause: uuid.UUID, timeout: float = 20.0) -> list[NotificationCreated]:
    consumer = AIOKafkaConsumer(
        NotificationCreated.TOPIC, **kafka.client_options(),
        auto_offset_reset="earliest", enable_auto_commit=False, group_id=None,
    )
    await consumer.start()
    found = []
    try:
        deadline = time.monotonic() + timeout
        while not found and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = NotificationCreated.model_validate_json(record.value)
                    if event.causation_id == cause:
                        assert record.key == event.data.recipient_user_id.encode()
                        found.append(event)
    finally:
        await consumer.stop()
    return found


async def test_payment_succeeded_notifies_the_creator_and_announces_it(client, publish_events, infra) -> None:
    creator = f"creator_{uuid.uuid4().hex[:8]}"
    event = payment(creator)
    await publish_events(event)

    await eventually(lambda: unread(client, creator))
    assert await unread(client, creator) == 1
    listed = (await client.get("/notifications", headers=headers(creator))).json()
    [item] = listed["items"]
    assert item["type"] == "PAYMENT_RECEIVED"
    assert item["recipient_user_id"] == creator
    assert item["body"] == "You earned 85.00 EUR from a payment of 100.00 EUR"
    assert item["link"] == f"/payments/{event.data.payment_id}"
    assert item["read_at"] is None
    assert listed["next_cursor"] is None

    [created] = await announced(infra.kafka, event.event_id)
    assert created.creator_id == creator
    assert created.correlation_id == event.correlation_id
    assert created.data.notification_id == item["id"]
    assert created.data.body == item["body"]


async def test_redelivered_payment_notifies_once(client, publish_events, db) -> None:
    creator = f"creator_{uuid.uuid4().hex[:8]}"
    twice, after = payment(creator), payment(creator)
    # Same key, so `after` is applied after both copies: once it shows, they are done.
    await publish_events(twice, twice, after)

    await eventually(lambda: rows_from(db, after.event_id))
    assert await rows_from(db, twice.event_id) == 1
    assert await unread(client, creator) == 2


async def test_one_event_makes_one_notification_per_recipient_even_past_the_inbox(db) -> None:
    source, user = uuid.uuid4(), f"creator_{uuid.uuid4().hex[:8]}"
    async with db.transaction() as session:
        first = await models.add_notifications(session, {source: [draft(user), draft(recipient_role="admin")]})
    async with db.transaction() as session:
        again = await models.add_notifications(session, {source: [draft(user), draft(recipient_role="admin")]})
    assert len(first) == 2
    assert again == []
    assert await rows_from(db, source) == 2


async def test_listing_pages_newest_first_without_gaps_or_repeats(client, db) -> None:
    user = f"creator_{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        await seed(db, user, 1)
    await seed(db, user, 4)  # ties on created_at: the id breaks them

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/notifications", params=params, headers=headers(user))
        assert response.status_code == 200, response.text
        page = response.json()
        seen += page["items"]
        pages += 1
        if not (cursor := page["next_cursor"]):
            break

    assert pages == 4
    assert len(seen) == 7
    assert len({item["id"] for item in seen}) == 7
    positions = [(datetime.fromisoformat(item["created_at"]), item["id"]) for item in seen]
    assert positions == sorted(positions, reverse=True)


async def mark_read(client, notification_id: str, user_id: str, role: str = "creator"):
    return await client.patch(f"/notifications/{notification_id}/read", headers=headers(user_id, role))


async def test_unread_filter_and_count_leave_out_read_notifications(client, db) -> None:
    user = f"creator_{uuid.uuid4().hex[:8]}"
    await seed(db, user, 3)
    everything = (await client.get("/notifications", headers=headers(user))).json()["items"]
    oldest = everything[-1]

    response = await mark_read(client, oldest["id"], user)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == oldest["id"]
    read_at = response.json()["read_at"]
    assert read_at is not None

    response = await client.get("/notifications", params={"unread": "true"}, headers=headers(user))
    unread_only = response.json()["items"]
    assert len(everything) == 3
    assert [item["id"] for item in unread_only] == [item["id"] for item in everything[:2]]
    assert await unread(client, user) == 2
    listed = (await client.get("/notifications", headers=headers(user))).json()["items"]
    assert listed[-1]["read_at"] == read_at
    # Reading again keeps the first read time.
    assert (await mark_read(client, oldest["id"], user)).json()["read_at"] == read_at


async def test_someone_elses_notification_cannot_be_marked_read(client, db) -> None:
    owner, other = f"creator_{uuid.uuid4().hex[:8]}", f"creator_{uuid.uuid4().hex[:8]}"
    await seed(db, owner, 1)
    [item] = (await client.get("/notifications", headers=headers(owner))).json()["items"]

    for user, role in ((other, "creator"), (f"admin_{uuid.uuid4().hex[:8]}", "admin")):
        response = await mark_read(client, item["id"], user, role)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await mark_read(client, str(uuid.uuid4()), owner)).status_code == 404
    assert (await mark_read(client, "not-a-uuid", owner)).status_code == 404
    assert await unread(client, owner) == 1


async def test_read_all_marks_only_what_the_caller_sees(client, db) -> None:
    user, other = f"creator_{uuid.uuid4().hex[:8]}", f"creator_{uuid.uuid4().hex[:8]}"
    await seed(db, user, 3)
    await seed(db, other, 2)
    [first, *_] = (await client.get("/notifications", headers=headers(user))).json()["items"]
    await mark_read(client, first["id"], user)

    response = await client.patch("/notifications/read-all", headers=headers(user))
    assert response.status_code == 200, response.text
    assert response.json() == {"marked": 2}
    assert await unread(client, user) == 0
    assert await unread(client, other) == 2
    again = await client.patch("/notifications/read-all", headers=headers(user))
    assert again.json() == {"marked": 0}


async def test_admins_also_see_what_is_addressed_to_the_admin_role(client, db) -> None:
    admin, creator = f"admin_{uuid.uuid4().hex[:8]}", f"creator_{uuid.uuid4().hex[:8]}"
    async with db.transaction() as session:
        await models.add_notifications(session, {uuid.uuid4(): [draft(recipient_role="admin"), draft(creator)]})
        await models.add_notifications(session, {uuid.uuid4(): [draft(admin)]})

    response = await client.get("/notifications", params={"limit": 100}, headers=headers(admin, "admin"))
    admin_items = response.json()["items"]
    assert any(item["recipient_user_id"] == admin for item in admin_items)
    assert any(item["recipient_role"] == "admin" for item in admin_items)
    assert not any(item["recipient_user_id"] == creator for item in admin_items)

    creator_items = (await client.get("/notifications", headers=headers(creator))).json()["items"]
    assert [item["recipient_user_id"] for item in creator_items] == [creator]
    assert await unread(client, creator) == 1


async def test_a_bad_cursor_is_a_400_problem(client) -> None:
    response = await client.get("/notifications", params={"cursor": "garbage!"}, headers=headers("u1"))
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 400
    assert problem["title"] == "Invalid cursor"


async def test_a_limit_out_of_range_is_a_400(client) -> None:
    for limit in (0, 101):
        response = await client.get("/notifications", params={"limit": limit}, headers=headers("u1"))
        assert response.status_code == 400


async def test_the_api_answers_only_an_identity_the_gateway_signed_for_it(client) -> None:
    unsigned = await client.get("/notifications", headers={"X-User-Id": "u1", "X-User-Role": "creator"})
    assert unsigned.status_code == 401
    for_another_service = await client.get("/notifications", headers=as_caller("payments", "u1", "creator"))
    assert for_another_service.status_code == 401
    forged = await client.get("/notifications", headers=as_caller("notifications", "u1", "admin", key="x" * 40))
    assert forged.status_code == 401


def refund_failed(creator_id: str) -> RefundFailed:
    return RefundFailed.new(
        RefundFailedData(
            refund_id=f"ref_{uuid.uuid4().hex[:10]}",
            payment_id=f"pay_{uuid.uuid4().hex[:10]}",
            creator_id=creator_id,
            stripe_refund_id=f"re_{uuid.uuid4().hex[:10]}",
            amount_minor=4000,
            currency="EUR",
            creator_clawback_minor=3400,
            was_succeeded=True,
            failure_reason="expired_or_canceled_card",
        ),
        producer="payments",
        creator_id=creator_id,
    )


async def ids_of(client, user_id: str, role: str, *, unread_only: bool = False) -> set[str]:
    params = {"limit": 100, **({"unread": "true"} if unread_only else {})}
    response = await client.get("/notifications", params=params, headers=headers(user_id, role))
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_refund_failed_reaches_every_admin_and_each_admin_reads_it_alone(client, publish_events, db) -> None:
    creator = f"creator_{uuid.uuid4().hex[:8]}"
    first, second = f"admin_{uuid.uuid4().hex[:8]}", f"admin_{uuid.uuid4().hex[:8]}"
    before = {admin: await unread(client, admin, "admin") for admin in (first, second)}
    event = refund_failed(creator)
    await publish_events(event)

    await eventually(lambda: rows_from(db, event.event_id))
    async with db.transaction() as session:
        [notification] = await session.scalars(
            sa.select(models.Notification).where(models.Notification.source_event_id == event.event_id)
        )
    assert (notification.type, notification.recipient_role) == ("REFUND_FAILED", "admin")
    assert "34.00 EUR" in notification.body
    mine = str(notification.id)
    for admin in (first, second):
        assert mine in await ids_of(client, admin, "admin", unread_only=True)
        assert await unread(client, admin, "admin") == before[admin] + 1
    assert await unread(client, creator) == 0  # admins only

    assert (await mark_read(client, mine, first, "admin")).status_code == 200
    assert await unread(client, first, "admin") == before[first]
    assert mine not in await ids_of(client, first, "admin", unread_only=True)
    assert await unread(client, second, "admin") == before[second] + 1
    assert mine in await ids_of(client, second, "admin", unread_only=True)

    # read-all by the second admin marks their read of it; the first keeps theirs.
    first_read = (await mark_read(client, mine, first, "admin")).json()["read_at"]
    assert (await client.patch("/notifications/read-all", headers=headers(second, "admin"))).status_code == 200
    assert await unread(client, second, "admin") == 0
    assert (await mark_read(client, mine, first, "admin")).json()["read_at"] == first_read


async def test_a_lost_dispute_notifies_the_creator_and_the_admins(client, publish_events, db) -> None:
    creator, admin = f"creator_{uuid.uuid4().hex[:8]}", f"admin_{uuid.uuid4().hex[:8]}"
    event = DisputeClosed.new(
        DisputeClosedData(
            dispute_id=f"dsp_{uuid.uuid4().hex[:10]}", stripe_dispute_id=f"dp_{uuid.uuid4().hex[:10]}",
            payment_id=f"pay_{uuid.uuid4().hex[:10]}", creator_id=creator, amount_minor=6000,
            currency="EUR", creator_share_minor=5100, status="lost", outcome="lost",
        ),
        producer="payments",
        creator_id=creator,
    )
    await publish_events(event)

    await eventually(lambda: unread(client, creator))
    [item] = (await client.get("/notifications", headers=headers(creator))).json()["items"]
    assert item["type"] == "DISPUTE_LOST"
    assert item["body"] == "The dispute on 60.00 EUR was lost: 51.00 EUR of your earnings is taken back"
    assert item["link"] == f"/payments/{event.data.payment_id}"
    admin_items = (await client.get("/notifications", params={"limit": 100},
                                    headers=headers(admin, "admin"))).json()["items"]
    assert any(i["type"] == "DISPUTE_LOST" and event.data.payment_id in i["body"] for i in admin_items)
    assert await rows_from(db, event.event_id) == 2
