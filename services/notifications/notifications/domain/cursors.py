"""List cursors: an opaque position in a list of notifications."""

import base64
import binascii
from datetime import datetime
from uuid import UUID

from notifications.domain.vocabulary import InvalidCursor


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
