"""What a person hears about an event, decided without I/O.

`RULES` maps a contract event model to the function that drafts its
notifications. A new notification type is one more row here; the consumer
subscribes to every model in the table.
"""

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from contracts.envelope import Event
from contracts.events.payments import PaymentSucceeded


class NotificationError(Exception):
    """Base of the notifications service's domain errors."""


class InvalidCursor(NotificationError):
    pass


class NotificationType(StrEnum):
    PAYMENT_RECEIVED = "PAYMENT_RECEIVED"


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

# Our minor units are Stripe's, so the exponents are Stripe's
# (https://docs.stripe.com/currencies): ISK, HUF, TWD and UGX travel in
# two-decimal form there even though they have no minor unit in cash, so they
# keep the default of 2.
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def currency_exponent(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def format_money(amount_minor: int, currency: str) -> str:
    """`8500, "EUR"` -> `"85.00 EUR"`; integer arithmetic only, never a float."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError(f"amounts are integers in minor units, not {type(amount_minor).__name__}")
    exponent = currency_exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    major, minor = divmod(abs(amount_minor), 10**exponent)
    if exponent == 0:
        return f"{sign}{major} {currency}"
    return f"{sign}{major}.{minor:0{exponent}d} {currency}"


# --- event -> notifications ------------------------------------------------


def payment_received(event: PaymentSucceeded) -> list[NotificationDraft]:
    data = event.data
    share = format_money(data.creator_share_minor, data.currency)
    price = format_money(data.price_minor, data.currency)
    return [
        NotificationDraft(
            type=NotificationType.PAYMENT_RECEIVED,
            recipient_user_id=data.creator_id,
            title="New payment received",
            body=f"You earned {share} from a payment of {price}",
            link=f"/payments/{data.payment_id}",
        )
    ]


RULES: dict[type[Event], Callable[[Any], list[NotificationDraft]]] = {
    PaymentSucceeded: payment_received,
}


def drafts_for(event: Event) -> list[NotificationDraft]:
    """The notifications `event` makes (one per recipient)."""
    return RULES[type(event)](event)


# --- list cursors ------------------------------------------------------------


def encode_cursor(created_at: datetime, notification_id: UUID) -> str:
    """An opaque position after the last listed row, ordered by (created_at, id)."""
    raw = f"{created_at.isoformat()}|{notification_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, notification_id = raw.split("|")
        created_at = datetime.fromisoformat(created)
        position = (created_at, UUID(notification_id))
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursor("cursor is not one this API returned") from error
    if created_at.tzinfo is None:
        raise InvalidCursor("cursor is not one this API returned")
    return position
