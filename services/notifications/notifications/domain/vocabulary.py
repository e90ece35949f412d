"""The words of the notifications domain: its errors, the notification types,
one drafted notification, and money written for people."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from contracts.money import decimal_string


class NotificationError(Exception):
    """Base of the notifications service's domain errors."""


class InvalidPreferences(NotificationError):
    pass


class NotificationType(StrEnum):
    PAYMENT_RECEIVED = "PAYMENT_RECEIVED"
    PAYMENT_NEEDS_REVIEW = "PAYMENT_NEEDS_REVIEW"
    REFUND_CREATED = "REFUND_CREATED"
    REFUND_FAILED = "REFUND_FAILED"
    DISPUTE_CREATED = "DISPUTE_CREATED"
    DISPUTE_UPDATED = "DISPUTE_UPDATED"
    DISPUTE_WON = "DISPUTE_WON"
    DISPUTE_LOST = "DISPUTE_LOST"
    DEBT_CREATED = "DEBT_CREATED"
    DEBT_DEDUCTED = "DEBT_DEDUCTED"
    DEBT_SETTLED = "DEBT_SETTLED"
    PAYOUT_REQUESTED = "PAYOUT_REQUESTED"
    PAYOUT_APPROVED = "PAYOUT_APPROVED"
    PAYOUT_REJECTED = "PAYOUT_REJECTED"
    PAYOUT_PROCESSING = "PAYOUT_PROCESSING"
    PAYOUT_PAID = "PAYOUT_PAID"
    PAYOUT_FAILED = "PAYOUT_FAILED"
    PAYOUT_CANCELED = "PAYOUT_CANCELED"
    PAYOUT_BLOCKED = "PAYOUT_BLOCKED"


@dataclass(frozen=True)
class NotificationDraft:
    """One notification to one recipient: a user, or every admin (the role)."""

    type: NotificationType
    title: str
    body: str
    link: str | None
    recipient_user_id: str | None = None
    recipient_role: Literal["admin"] | None = None

    def __post_init__(self) -> None:
        if (self.recipient_user_id is None) == (self.recipient_role is None):
            raise ValueError("a notification has exactly one recipient: a user or a role")


# --- money for people ------------------------------------------------------

def format_money(amount_minor: int, currency: str) -> str:
    """`8500, "EUR"` -> `"85.00 EUR"`; integer arithmetic only, never a float."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError(f"amounts are integers in minor units, not {type(amount_minor).__name__}")
    return f"{decimal_string(amount_minor, currency)} {currency}"
