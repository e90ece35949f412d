"""Notifications as rows, and the queries the service needs."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.http import Identity
from notifications import domain

ADMIN_ROLE_KEY = "role:admin"


class Base(DeclarativeBase):
    pass


class Notification(Base):
    """One notification to one recipient: a user, or the admin role. Who has read
    it is in `notification_reads`: a role's notification is shared by every admin,
    and each admin reads it alone."""

    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    recipient_user_id: Mapped[str | None] = mapped_column(sa.Text)
    recipient_role: Mapped[str | None] = mapped_column(sa.Text)
    # "user:<id>" or "role:<role>": one column to make unique and to list by.
    recipient_key: Mapped[str] = mapped_column(
        sa.Text,
        sa.Computed(
            "CASE WHEN recipient_user_id IS NOT NULL THEN 'user:' || recipient_user_id "
            "ELSE 'role:' || recipient_role END",
            persisted=True,
        ),
    )
    type: Mapped[str] = mapped_column(sa.Text)
    title: Mapped[str] = mapped_column(sa.Text)
    body: Mapped[str] = mapped_column(sa.Text)
    link: Mapped[str | None] = mapped_column(sa.Text)
    source_event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        # However often an event is delivered, it notifies each recipient once.
        sa.UniqueConstraint("source_event_id", "recipient_key", name="notifications_once_per_recipient"),
        sa.CheckConstraint(
            "(recipient_user_id IS NULL) <> (recipient_role IS NULL)", name="notifications_one_recipient"
        ),
        sa.Index("notifications_by_recipient", "recipient_key", "created_at", "id"),
    )


class NotificationRead(Base):
    """`user_id` has read `notification_id` (their own, or as an admin a role's)."""

    __tablename__ = "notification_reads"

    notification_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    read_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


@dataclass(frozen=True)
class Seen:
    """A notification as one reader sees it: `read_at` is theirs (None: unread)."""

    notification: Notification
    read_at: datetime | None


def recipient_keys(who: Identity) -> list[str]:
    """What a caller sees: their own notifications, and an admin also the admins'."""
    keys = [f"user:{who.user_id}"]
    if who.role == "admin":
        keys.append(ADMIN_ROLE_KEY)
    return keys


async def add_notifications(
    session: AsyncSession, source_event_id: uuid.UUID, drafts: Sequence[domain.NotificationDraft]
) -> list[Notification]:
    """Insert the drafts; those already made from this event are skipped, not returned."""
    if not drafts:
        return []
    rows = [
        {
            "id": uuid.uuid4(),
            "recipient_user_id": draft.recipient_user_id,
            "recipient_role": draft.recipient_role,
            "type": draft.type.value,
            "title": draft.title,
            "body": draft.body,
            "link": draft.link,
            "source_event_id": source_event_id,
        }
        for draft in drafts
    ]
    result = await session.scalars(
        insert(Notification)
        .values(rows)
        .on_conflict_do_nothing(constraint="notifications_once_per_recipient")
        .returning(Notification)
    )
    return list(result)


def _as_seen_by(who: Identity, *columns: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """The caller's notifications (not deleted), joined to the caller's own reads."""
    return (
        sa.select(*columns)
        .select_from(Notification)
        .outerjoin(
            NotificationRead,
            sa.and_(NotificationRead.notification_id == Notification.id,
                    NotificationRead.user_id == who.user_id),
        )
        .where(Notification.recipient_key.in_(recipient_keys(who)), Notification.deleted_at.is_(None))
    )


_UNREAD = NotificationRead.read_at.is_(None)


async def list_notifications(
    session: AsyncSession,
    who: Identity,
    *,
    unread_only: bool,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[Seen]:
    """Newest first, keyset-paginated on (created_at, id), which is a total order."""
    query = _as_seen_by(who, Notification, NotificationRead.read_at)
    if unread_only:
        query = query.where(_UNREAD)
    if after is not None:
        created_at, notification_id = after
        query = query.where(
            sa.tuple_(Notification.created_at, Notification.id)
            < sa.tuple_(
                sa.literal(created_at, Notification.created_at.type),
                sa.literal(notification_id, Notification.id.type),
            )
        )
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    return [Seen(notification, read_at) for notification, read_at in await session.execute(query)]


async def count_unread(session: AsyncSession, who: Identity) -> int:
    return int(await session.scalar(_as_seen_by(who, sa.func.count()).where(_UNREAD)) or 0)


async def get_notification(session: AsyncSession, who: Identity, notification_id: uuid.UUID) -> Seen | None:
    """None when the caller cannot see it (someone else's, deleted, or no such id)."""
    query = _as_seen_by(who, Notification, NotificationRead.read_at).where(Notification.id == notification_id)
    row = (await session.execute(query)).one_or_none()
    return Seen(*row) if row else None


async def mark_read(session: AsyncSession, who: Identity, notification_id: uuid.UUID) -> Seen | None:
    """Read by the caller (the first read time is kept); None when they cannot see it."""
    if await get_notification(session, who, notification_id) is None:
        return None
    await session.execute(
        insert(NotificationRead)
        .values(notification_id=notification_id, user_id=who.user_id)
        .on_conflict_do_nothing(index_elements=["notification_id", "user_id"])
    )
    return await get_notification(session, who, notification_id)


async def mark_all_read(session: AsyncSession, who: Identity) -> int:
    """Everything the caller sees and has not read yet; how many that was."""
    unread = _as_seen_by(who, Notification.id, sa.literal(who.user_id, sa.Text)).where(_UNREAD)
    result = await session.execute(
        insert(NotificationRead)
        .from_select(["notification_id", "user_id"], unread)
        .on_conflict_do_nothing(index_elements=["notification_id", "user_id"])
    )
    return result.rowcount
