"""What a person hears about an event, decided without I/O.

Pure rules, no I/O: the database, Kafka and SMTP stay with the callers.

- `vocabulary`: the errors, notification types, a drafted notification, money for people
- `rules`: which notifications each contract event makes (`RULES`, `drafts_for`)
- `preferences`: who turned which channel off, and what cannot be turned off
- `retries`: how long a failed email waits before its next try
- `addresses`: email addresses as they are stored
"""

from notifications.domain.addresses import parse_address
from notifications.domain.preferences import CHANNELS, CRITICAL_IN_APP, Preference, parse_preferences
from notifications.domain.retries import retry_delay
from notifications.domain.rules import RULES, drafts_for
from notifications.domain.vocabulary import (
    InvalidPreferences,
    NotificationDraft,
    NotificationError,
    NotificationType,
    format_money,
)

__all__ = [
    "CHANNELS",
    "CRITICAL_IN_APP",
    "RULES",
    "InvalidPreferences",
    "NotificationDraft",
    "NotificationError",
    "NotificationType",
    "Preference",
    "drafts_for",
    "format_money",
    "parse_address",
    "parse_preferences",
    "retry_delay",
]
