"""Parking: an event that arrives before the one it builds on waits in the
database instead of failing.

Each event type is its own topic, so a consumer can read a refund before the
payment it refunds, or a dispute's close before its opening. The handler raises
`NotReady(waits_for=...)`; the consumer parks the event (in the same batch
transaction, its inbox claim rolled back) and commits its offset. When a later
handler announces that key (`Applying.ready(key)`), the consumer applies the
parked events in the same transaction, in the order they were parked. Every
service that consumes also sweeps its parked events every few seconds, for a
park and an announce that raced in two transactions. An event that never gets
its prerequisite stays visible in `parked_events`; nothing is dropped and no
partition is blocked.
"""

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from common.tables import parked_events

class NotReady(Exception):
    """Raised by a handler whose prerequisite (`waits_for`) is not applied yet;
    a handler of many events names the one that waits (`event_id`)."""

    def __init__(self, waits_for: str, *, event_id: UUID | None = None) -> None:
        super().__init__(f"waiting for {waits_for}")
        self.waits_for = waits_for
        self.event_id = event_id


@dataclass(frozen=True)
class ParkedEvent:
    id: int
    topic: str
    payload: bytes


async def park(session: AsyncSession, *, event_id: UUID, topic: str, payload: bytes, waits_for: str) -> None:
    await session.execute(
        insert(parked_events)
        .values(event_id=event_id, topic=topic, payload=payload, waits_for=waits_for)
        .on_conflict_do_nothing(index_elements=[parked_events.c.event_id])
    )


async def waiting_for(session: AsyncSession, keys: set[str]) -> list[ParkedEvent]:
    """The events waiting for any of `keys`, oldest first, locked against a concurrent release."""
    rows = await session.execute(
        select(parked_events.c.id, parked_events.c.topic, parked_events.c.payload)
        .where(parked_events.c.waits_for.in_(keys))
        .order_by(parked_events.c.id)
        .with_for_update(skip_locked=True)
    )
    return [ParkedEvent(row.id, row.topic, row.payload) for row in rows]


async def oldest(session: AsyncSession, limit: int) -> list[ParkedEvent]:
    rows = await session.execute(
        select(parked_events.c.id, parked_events.c.topic, parked_events.c.payload)
        .order_by(parked_events.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [ParkedEvent(row.id, row.topic, row.payload) for row in rows]


async def release(session: AsyncSession, parked: ParkedEvent) -> None:
    await session.execute(delete(parked_events).where(parked_events.c.id == parked.id))
