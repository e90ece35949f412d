"""The inbox: which events this service has already applied."""

from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from common.tables import inbox


async def claim(session: AsyncSession, event_id: UUID, topic: str) -> bool:
    """Record `event_id` in the caller's transaction; False if it was applied before.

    A concurrent claim of the same id waits on the row lock and then sees the
    conflict, so two deliveries racing each other still apply once.
    """
    result = await session.execute(
        insert(inbox)
        .values(event_id=event_id, topic=topic)
        .on_conflict_do_nothing(index_elements=[inbox.c.event_id])
        .returning(inbox.c.event_id)
    )
    return result.scalar_one_or_none() is not None


async def claim_many(session: AsyncSession, deliveries: list[tuple[UUID, str]]) -> set[UUID]:
    """`claim` for a whole batch in one statement; returns the ids not applied before."""
    if not deliveries:
        return set()
    result = await session.execute(
        insert(inbox)
        .values([{"event_id": event_id, "topic": topic} for event_id, topic in deliveries])
        .on_conflict_do_nothing(index_elements=[inbox.c.event_id])
        .returning(inbox.c.event_id)
    )
    return set(result.scalars())
