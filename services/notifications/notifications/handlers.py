"""The events notifications applies. Each runs inside the consumer's transaction,
after the inbox has claimed the event id (see common.consumers)."""

from collections.abc import Sequence

from common import outbox
from common.applying import Applying, EventHandlers
from contracts.envelope import Event
from contracts.events.notifications import NotificationCreated, NotificationCreatedData
from notifications import domain, mailer, models

PRODUCER = "notifications"

handlers: EventHandlers[None] = EventHandlers()


async def notify(events: Sequence[Event], applying: Applying[None]) -> None:
    """Store the batch's notifications and queue their emails, a statement each
    for the whole batch, and announce each new notification (live push)."""
    session = applying.session
    by_id = {event.event_id: event for event in events}
    created = await models.add_notifications(session, {e.event_id: domain.drafts_for(e) for e in events})
    if await models.queue_emails(session, created):
        session.info[mailer.QUEUED] = True  # wakes the mailer after the commit
    for notification in created:
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
                cause=by_id[notification.source_event_id],
            ),
        )


# Every event with a drafting rule is consumed by `notify`: a new notification
# type is a row in domain.RULES, not a new handler.
for model in domain.RULES:
    handlers.on(model)(notify)
