"""The events notifications applies. Each runs inside the consumer's transaction,
after the inbox has claimed the event id (see common.consumers)."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from common import outbox
from common.applying import Applying, EventHandlers
from contracts.envelope import Event
from contracts.events.notifications import NotificationCreated, NotificationCreatedData
from notifications import domain, mailer, models

PRODUCER = "notifications"

handlers: EventHandlers[None] = EventHandlers()


async def notify(events: Sequence[Event], applying: Applying[None]) -> None:
    """Store the events' notifications, queue their emails, and announce each new
    one (live push)."""
    for event in events:
        await _notify(event, applying.session)


async def _notify(event: Event, session: AsyncSession) -> None:
    created = await models.add_notifications(session, event.event_id, domain.drafts_for(event))
    for notification in created:
        if await models.queue_emails(session, notification):
            session.info[mailer.QUEUED] = True
        await outbox.add(
            session,
            NotificationCreated.new(
                NotificationCreatedData(
                    notification_id=str(notification.id),
                    type=notification.type,
                    recipient_user_id=notification.recipient_user_id,
                    recipient_role=notification.recipient_role,
                    title=notification.title,
                    body=notification.body,
                    link=notification.link,
                    created_at=notification.created_at,
                ),
                producer=PRODUCER,
                # The key: one user's notifications stay in order on one partition.
                creator_id=notification.recipient_user_id,
                cause=event,
            ),
        )


# Every event with a drafting rule is consumed by `notify`: a new notification
# type is a row in domain.RULES, not a new handler.
for model in domain.RULES:
    handlers.on(model)(notify)
