"""In-app notifications and their preferences."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NotificationType = Literal[
    "PAYMENT_RECEIVED", "PAYMENT_NEEDS_REVIEW", "REFUND_CREATED", "REFUND_FAILED", "DISPUTE_CREATED",
    "DISPUTE_UPDATED", "DISPUTE_WON", "DISPUTE_LOST", "DEBT_CREATED", "DEBT_DEDUCTED", "DEBT_SETTLED",
    "PAYOUT_REQUESTED", "PAYOUT_APPROVED", "PAYOUT_REJECTED", "PAYOUT_PROCESSING", "PAYOUT_PAID", "PAYOUT_FAILED",
    "PAYOUT_CANCELED", "PAYOUT_BLOCKED",
]

_NOTIFICATION = {
    "id": "3c2b1a09-8f7e-4d6c-9b5a-493827160504", "type": "PAYMENT_RECEIVED", "title": "Payment received",
    "body": "You earned 85.00 EUR.", "link": "/payments/5f0e3c1a-1d2b-4c3d-9e8f-0a1b2c3d4e5f",
    "recipient_user_id": "creator-42", "recipient_role": None, "created_at": "2026-12-01T10:00:00+00:00",
    "read_at": None}
_PREFERENCE = {"type": "PAYOUT_PAID", "in_app": True, "email": False, "in_app_required": False}


class Notification(BaseModel):
    model_config = ConfigDict(example=_NOTIFICATION)

    id: str
    type: NotificationType
    title: str
    body: str
    link: str | None = Field(description="Where its object is, relative to the console")
    recipient_user_id: str | None
    recipient_role: Literal["admin"] | None = Field(description="admin: every admin's, read state per admin")
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    model_config = ConfigDict(example={"items": [_NOTIFICATION], "next_cursor": None})

    items: list[Notification]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last")


class UnreadCount(BaseModel):
    model_config = ConfigDict(example={"unread": 3})

    unread: int


class MarkedRead(BaseModel):
    model_config = ConfigDict(example={"marked": 3})

    marked: int = Field(description="How many were unread")


class Preference(BaseModel):
    model_config = ConfigDict(example=_PREFERENCE)

    type: NotificationType
    in_app: bool
    email: bool
    in_app_required: bool = Field(description="Critical: always shown in the app")


class Preferences(BaseModel):
    model_config = ConfigDict(example={"preferences": [_PREFERENCE]})

    preferences: list[Preference]


class PreferenceChange(BaseModel):
    """The channels named change; the others keep their value."""

    model_config = ConfigDict(extra="forbid", example={"type": "PAYOUT_PAID", "email": False})

    type: NotificationType
    in_app: bool | None = None
    email: bool | None = None


class PreferencesChange(BaseModel):
    model_config = ConfigDict(extra="forbid", example={"preferences": [{"type": "PAYOUT_PAID", "email": False}]})

    preferences: list[PreferenceChange]
