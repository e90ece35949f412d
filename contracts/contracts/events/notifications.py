"""Events notifications emits; the gateway pushes them to browsers."""

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from contracts.envelope import Event, EventData


class NotificationCreatedData(EventData):
    notification_id: str
    type: str = Field(description="e.g. PAYMENT_RECEIVED")
    recipient_user_id: str | None = Field(default=None, description="Set for a person")
    recipient_role: Literal["admin"] | None = Field(
        default=None, description="Set when addressed to every admin"
    )
    title: str
    body: str
    link: str | None = None
    created_at: datetime

    @model_validator(mode="after")
    def _one_recipient(self) -> "NotificationCreatedData":
        if (self.recipient_user_id is None) == (self.recipient_role is None):
            raise ValueError("exactly one of recipient_user_id and recipient_role")
        return self


class NotificationCreated(Event[NotificationCreatedData]):
    TOPIC: ClassVar[str] = "notification.created"

    def key(self) -> bytes | None:
        # Keyed by recipient, so one person's notifications stay in order.
        return (self.creator_id or f"role:{self.data.recipient_role}").encode()
