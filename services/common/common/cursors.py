"""Opaque keyset cursors for sorted admin lists: (sort, order, sort key, row id),
refused when they come from another list or another sort order."""

import base64
import binascii
import json
import uuid
from datetime import datetime


class InvalidCursor(ValueError):
    pass


def encode(sort: str, order: str, value: datetime | int, row_id: uuid.UUID) -> str:
    raw = json.dumps([sort, order, value.isoformat() if isinstance(value, datetime) else value, str(row_id)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, sort: str, order: str) -> tuple[datetime | int, uuid.UUID]:
    """The (sort key, row id) after which the next page starts. The key is a time
    when sorting by `created_at`, else an integer amount."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, cursor_order, value, row_id = json.loads(raw)
        if (cursor_sort, cursor_order) != (sort, order):
            raise InvalidCursor("this cursor belongs to another sort order")
        key = datetime.fromisoformat(value) if sort == "created_at" else value
        if sort == "amount" and (not isinstance(key, int) or isinstance(key, bool)):
            raise InvalidCursor("not a cursor of this list")
        if isinstance(key, datetime) and key.tzinfo is None:
            raise InvalidCursor("not a cursor of this list")  # every time we list is aware
        return key, uuid.UUID(row_id)
    except InvalidCursor:
        raise
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as error:
        raise InvalidCursor("not a cursor of this list") from error
