"""The live hub's routing: who gets which notification (no Kafka involved)."""

from datetime import UTC, datetime

from common.http import Identity
from contracts.events.notifications import NotificationCreatedData
from gateway.live import QUEUE_SIZE, LiveHub


def created(n: int, *, user: str | None = None, role: str | None = None) -> NotificationCreatedData:
    return NotificationCreatedData(notification_id=f"n{n}", type="PAYMENT_RECEIVED", recipient_user_id=user,
                                   recipient_role=role, title="t", body="b", created_at=datetime.now(UTC))


def drain(subscription) -> list[str]:
    found = []
    while not subscription.queue.empty():
        found.append(subscription.queue.get_nowait().notification_id)
    return found


async def test_a_users_notification_reaches_only_that_users_streams() -> None:
    hub = LiveHub("unused:9092", client_id="test", max_streams_per_user=5)
    alice_tab1, alice_tab2 = hub.subscribe(Identity("alice", "creator")), hub.subscribe(Identity("alice", "creator"))
    bob = hub.subscribe(Identity("bob", "creator"))
    assert hub.route(created(1, user="alice")) == 2
    assert (drain(alice_tab1), drain(alice_tab2), drain(bob)) == (["n1"], ["n1"], [])


async def test_an_admins_notification_reaches_every_admin_and_no_one_else() -> None:
    hub = LiveHub("unused:9092", client_id="test", max_streams_per_user=5)
    first, second = hub.subscribe(Identity("a1", "admin")), hub.subscribe(Identity("a2", "admin"))
    creator = hub.subscribe(Identity("c1", "creator"))
    assert hub.route(created(1, role="admin")) == 2
    assert (drain(first), drain(second), drain(creator)) == (["n1"], ["n1"], [])


async def test_a_closed_stream_gets_nothing_more() -> None:
    hub = LiveHub("unused:9092", client_id="test", max_streams_per_user=5)
    stream = hub.subscribe(Identity("alice", "creator"))
    hub.unsubscribe(stream)
    assert hub.route(created(1, user="alice")) == 0
    assert drain(stream) == []


async def test_a_stream_that_falls_behind_drops_the_overflow_instead_of_blocking() -> None:
    hub = LiveHub("unused:9092", client_id="test", max_streams_per_user=5)
    slow, other = hub.subscribe(Identity("alice", "creator")), hub.subscribe(Identity("bob", "creator"))
    for n in range(QUEUE_SIZE + 5):
        hub.route(created(n, user="alice"))
    hub.route(created(999, user="bob"))
    assert len(drain(slow)) == QUEUE_SIZE
    assert drain(other) == ["n999"]
