"""Notifications as rows, and the queries the service needs."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
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

    __table_args__ = (
        # However often an event is delivered, it notifies each recipient once.
        sa.UniqueConstraint("source_event_id", "recipient_key", name="notifications_once_per_recipient"),
        sa.CheckConstraint(
            "(recipient_user_id IS NULL) <> (recipient_role IS NULL)", name="notifications_one_recipient"
        ),
        sa.Index("notifications_by_recipient", "recipient_key", "created_at", "id"),
        sa.Index("notifications_by_age", "created_at"),  # retention
    )


class NotificationRead(Base):
    """`user_id` has read `notification_id` (their own, or as an admin a role's)."""

    __tablename__ = "notification_reads"

    notification_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    read_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class NotificationDeletion(Base):
    """`user_id` deleted `notification_id` for themselves (soft: an admin deleting
    an admins' notification hides it from that admin only)."""

    __tablename__ = "notification_deletions"

    notification_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    deleted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Preference(Base):
    """A channel someone turned off (or on again) for one type; no row: both on."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    type: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    in_app: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())
    email: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Contact(Base):
    """Where to email a person: the projection of what the gateway vouched for on
    their authenticated calls (the `email` claim of their token, carried in
    the identity the gateway signs, parsed before it is stored). No other service is asked; someone
    never seen gets no email.

    The role is what their latest call said, and it is believed only until
    `role_expires_at`: no service tells us when an admin is demoted, so an admin
    not seen as one for that long stops getting the admins' emails."""

    __tablename__ = "contacts"

    user_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    email: Mapped[str] = mapped_column(sa.Text)
    role: Mapped[str] = mapped_column(sa.Text)  # admins also get the admins' emails
    role_expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (sa.Index("contacts_by_role", "role"),)


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class EmailDelivery(Base):
    """One email of one notification to one person, and how sending it went."""

    __tablename__ = "email_deliveries"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("notifications.id", ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(sa.Text)
    to_address: Mapped[str] = mapped_column(sa.Text)  # as known when the notification was made
    status: Mapped[str] = mapped_column(sa.Text, server_default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.UniqueConstraint("notification_id", "user_id", name="email_deliveries_once_per_person"),
        sa.CheckConstraint("status IN ('PENDING', 'SENT', 'FAILED')", name="email_deliveries_status"),
        sa.Index("email_deliveries_due", "next_attempt_at", postgresql_where=sa.text("status = 'PENDING'")),
    )


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


# Built once (every notification passes here); the rows go as parameters.
_ADD_NOTIFICATIONS = (
    insert(Notification)
    .on_conflict_do_nothing(constraint="notifications_once_per_recipient")
    .returning(Notification, sort_by_parameter_order=True)
)


async def add_notifications(
    session: AsyncSession, drafts_by_event: Mapping[uuid.UUID, Sequence[domain.NotificationDraft]]
) -> list[Notification]:
    """Insert the drafts of a batch of events (by source event id) in one
    statement, in order; those already made from their event are skipped, not returned."""
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
        for source_event_id, drafts in drafts_by_event.items()
        for draft in drafts
    ]
    if not rows:
        return []
    return list(await session.scalars(_ADD_NOTIFICATIONS, rows))


def _as_seen_by(who: Identity, *columns: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """The caller's notifications, joined to the caller's own reads; not those they
    deleted, nor those of a type they turned off in the app."""
    deleted = sa.exists().where(NotificationDeletion.notification_id == Notification.id,
                                NotificationDeletion.user_id == who.user_id)
    hidden = sa.exists().where(Preference.user_id == who.user_id, Preference.type == Notification.type,
                               Preference.in_app.is_(False))
    return (
        sa.select(*columns)
        .select_from(Notification)
        .outerjoin(
            NotificationRead,
            sa.and_(NotificationRead.notification_id == Notification.id,
                    NotificationRead.user_id == who.user_id),
        )
        .where(Notification.recipient_key.in_(recipient_keys(who)), ~deleted, ~hidden)
    )


_UNREAD = NotificationRead.read_at.is_(None)


async def list_notifications(
    session: AsyncSession,
    who: Identity,
    *,
    unread_only: bool,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    types: Sequence[domain.NotificationType] = (),
) -> list[Seen]:
    """Newest first, keyset-paginated on (created_at, id), which is a total order."""
    query = _as_seen_by(who, Notification, NotificationRead.read_at)
    if unread_only:
        query = query.where(_UNREAD)
    if types:
        query = query.where(Notification.type.in_([t.value for t in types]))
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


async def delete_notification(session: AsyncSession, who: Identity, notification_id: uuid.UUID) -> bool:
    """Hidden from the caller from now on; False when they cannot see it."""
    if await get_notification(session, who, notification_id) is None:
        return False
    await session.execute(
        insert(NotificationDeletion)
        .values(notification_id=notification_id, user_id=who.user_id)
        .on_conflict_do_nothing(index_elements=["notification_id", "user_id"])
    )
    return True


async def purge_older_than(session: AsyncSession, age: timedelta) -> int:
    """Retention: delete notifications (their reads, deletions and emails go with
    them) made more than `age` ago; how many went."""
    result = await session.execute(
        sa.delete(Notification).where(Notification.created_at < sa.func.now() - age)
    )
    return result.rowcount


# --- preferences and contacts --------------------------------------------------


async def preferences_of(session: AsyncSession, user_id: str) -> list[domain.Preference]:
    """Every type, with the person's choices (both channels on where they made none)."""
    rows = await session.scalars(sa.select(Preference).where(Preference.user_id == user_id))
    chosen = {row.type: row for row in rows}
    result = []
    for type_ in domain.NotificationType:
        row = chosen.get(type_.value)
        result.append(domain.Preference(type_, row.in_app, row.email) if row else domain.Preference(type_))
    return result


async def set_preferences(
    session: AsyncSession, user_id: str, changes: dict[domain.NotificationType, dict[str, bool]]
) -> None:
    for type_, channels in changes.items():
        await session.execute(
            insert(Preference)
            .values(user_id=user_id, type=type_.value, **channels)
            .on_conflict_do_update(
                index_elements=["user_id", "type"], set_={**channels, "updated_at": sa.func.now()}
            )
        )


async def remember_caller(session: AsyncSession, who: Identity, email: str | None, role_ttl: timedelta) -> None:
    """What one authenticated call says about its caller: their role, believed
    for `role_ttl` from now, and their address when the call carries one (parsed:
    see domain.parse_address). A call that changes neither writes nothing, unless
    half of the role's time is gone (so a steady admin costs a write per half
    `role_ttl`, not one per call)."""
    now = sa.func.now()
    changed = [Contact.role != who.role, Contact.role_expires_at < now + role_ttl / 2]
    fresh = {"role": who.role, "role_expires_at": now + role_ttl, "updated_at": now}
    if email is None:  # nothing to insert: without an address there is no one to email
        await session.execute(
            sa.update(Contact).where(Contact.user_id == who.user_id, sa.or_(*changed)).values(**fresh)
        )
        return
    statement = insert(Contact).values(user_id=who.user_id, email=email, role=who.role,
                                       role_expires_at=now + role_ttl)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id"],
            set_={"email": email, **fresh},
            where=sa.or_(Contact.email != statement.excluded.email, *changed),
        )
    )


# --- email deliveries --------------------------------------------------------


# One statement for a batch of notifications, whatever its size: a PENDING
# delivery for each person a notification reaches who has an address and has
# not turned its type's email off; a role reaches each person seen in that role
# within their contact's `role_expires_at`.
_QUEUE_EMAILS = sa.text("""
    WITH made AS (
        SELECT * FROM unnest(:ids, :types, :user_ids, :roles) AS made(id, type, user_id, role)
    ), reached AS (
        SELECT made.id, made.type, contacts.user_id, contacts.email
        FROM made JOIN contacts ON contacts.user_id = made.user_id
        UNION ALL
        SELECT made.id, made.type, contacts.user_id, contacts.email
        FROM made JOIN contacts ON made.user_id IS NULL AND contacts.role = made.role
                               AND contacts.role_expires_at > now()
    )
    INSERT INTO email_deliveries (notification_id, user_id, to_address)
    SELECT reached.id, reached.user_id, reached.email FROM reached
    WHERE NOT EXISTS (
        SELECT FROM notification_preferences AS p
        WHERE p.user_id = reached.user_id AND p.type = reached.type AND p.email IS FALSE
    )
    ON CONFLICT ON CONSTRAINT email_deliveries_once_per_person DO NOTHING
""").bindparams(
    sa.bindparam("ids", type_=ARRAY(UUID(as_uuid=True))),
    sa.bindparam("types", type_=ARRAY(sa.Text)),
    sa.bindparam("user_ids", type_=ARRAY(sa.Text)),
    sa.bindparam("roles", type_=ARRAY(sa.Text)),
)


async def queue_emails(session: AsyncSession, notifications: Sequence[Notification]) -> int:
    """Queue the emails of `notifications` (see _QUEUE_EMAILS); how many."""
    if not notifications:
        return 0
    result = await session.execute(_QUEUE_EMAILS, {
        "ids": [n.id for n in notifications],
        "types": [n.type for n in notifications],
        "user_ids": [n.recipient_user_id for n in notifications],
        "roles": [n.recipient_role for n in notifications],
    })
    return result.rowcount


async def pending_email_count(session: AsyncSession) -> int:
    """Deliveries not sent yet, due or waiting for their next attempt."""
    return await session.scalar(
        sa.select(sa.func.count()).select_from(EmailDelivery).where(EmailDelivery.status == DeliveryStatus.PENDING.value)
    ) or 0


async def due_emails(session: AsyncSession, limit: int) -> list[tuple[EmailDelivery, Notification]]:
    """PENDING deliveries whose time has come, oldest first, locked for this sender:
    another replica skips them, so two never send the same one."""
    query = (
        sa.select(EmailDelivery, Notification)
        .join(Notification, Notification.id == EmailDelivery.notification_id)
        .where(EmailDelivery.status == DeliveryStatus.PENDING.value, EmailDelivery.next_attempt_at <= sa.func.now())
        .order_by(EmailDelivery.next_attempt_at, EmailDelivery.id)
        .limit(limit)
        .with_for_update(of=EmailDelivery, skip_locked=True)
    )
    return [(delivery, notification) for delivery, notification in await session.execute(query)]
