"""Notifications as rows, and the queries the service needs."""

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from notifications import domain

ADMIN_ROLE_KEY = "role:admin"


class Base(DeclarativeBase):
    pass


class Notification(Base):
    """One notification to one recipient: a user, or the admin role.

    Read state lives on the row for a user's notification. A role's notification
    is shared by every admin, so per-admin read state will be a separate table
    (notification_id, user_id, read_at) rather than this column.
    """

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
    read_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        # However often an event is delivered, it notifies each recipient once.
        sa.UniqueConstraint("source_event_id", "recipient_key", name="notifications_once_per_recipient"),
        sa.CheckConstraint(
            "(recipient_user_id IS NULL) <> (recipient_role IS NULL)", name="notifications_one_recipient"
        ),
        sa.Index("notifications_by_recipient", "recipient_key", "created_at", "id"),
    )


def recipient_keys(user_id: str, role: str) -> list[str]:
    """What a caller sees: their own notifications, and an admin also the admins'."""
    keys = [f"user:{user_id}"]
    if role == "admin":
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


def _visible(keys: list[str], *, unread_only: bool) -> list[sa.ColumnElement[bool]]:
    conditions = [Notification.recipient_key.in_(keys), Notification.deleted_at.is_(None)]
    if unread_only:
        conditions.append(Notification.read_at.is_(None))
    return conditions


async def list_notifications(
    session: AsyncSession,
    keys: list[str],
    *,
    unread_only: bool,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[Notification]:
    """Newest first, keyset-paginated on (created_at, id), which is a total order."""
    query = sa.select(Notification).where(*_visible(keys, unread_only=unread_only))
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
    return list(await session.scalars(query))


async def count_unread(session: AsyncSession, keys: list[str]) -> int:
    query = sa.select(sa.func.count()).select_from(Notification).where(*_visible(keys, unread_only=True))
    return int(await session.scalar(query) or 0)
