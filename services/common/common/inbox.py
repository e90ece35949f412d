"""The inbox: which events this service has already applied."""

from uuid import UUID

from sqlalchemy import Text, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from common.tables import inbox

# The ids as two arrays: one statement text for any batch size, so it is
# compiled and prepared once (a VALUES list would be a new statement per size).
_claimed = func.unnest(
    bindparam("event_ids", type_=ARRAY(PgUUID(as_uuid=True))), bindparam("topics", type_=ARRAY(Text))
).table_valued("event_id", "topic").render_derived(name="claimed")
_CLAIM_MANY = (
    insert(inbox)
    .from_select(["event_id", "topic"], select(_claimed.c.event_id, _claimed.c.topic))
    .on_conflict_do_nothing(index_elements=[inbox.c.event_id])
    .returning(inbox.c.event_id)
)


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
    event_ids, topics = zip(*deliveries, strict=True)
    result = await session.execute(_CLAIM_MANY, {"event_ids": list(event_ids), "topics": list(topics)})
    return set(result.scalars())
