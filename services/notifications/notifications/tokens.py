"""Unsubscribe tokens: who stops getting which email, signed so a link cannot be
forged, and expiring so an old forwarded mail does not stay a switch forever.

A token is `<payload>.<signature>`, both base64url without padding: the payload
is compact JSON `{"u": user_id, "t": type, "e": expiry (unix seconds)}`, the
signature HMAC-SHA256 of the payload's base64 text with the service's secret.
"""

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

from notifications.domain import NotificationType


class InvalidToken(Exception):
    """Forged, mangled or expired; the message says which (safe to show)."""


@dataclass(frozen=True)
class Unsubscribe:
    user_id: str
    type: NotificationType
    expires_at: int  # unix seconds


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: str, secret: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


def sign(user_id: str, type_: NotificationType, *, secret: str, now: int, ttl_s: int) -> str:
    body = json.dumps({"u": user_id, "t": type_.value, "e": now + ttl_s}, separators=(",", ":"))
    payload = _b64(body.encode())
    return f"{payload}.{_signature(payload, secret)}"


def verify(token: str, *, secret: str, now: int) -> Unsubscribe:
    payload, dot, signature = token.partition(".")
    if not dot or not hmac.compare_digest(signature.encode(), _signature(payload, secret).encode()):
        raise InvalidToken("this unsubscribe link is not valid")
    try:
        claims = json.loads(_unb64(payload))
        found = Unsubscribe(user_id=str(claims["u"]), type=NotificationType(claims["t"]),
                            expires_at=int(claims["e"]))
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        # Signed by us but unreadable: a type renamed since, say.
        raise InvalidToken("this unsubscribe link is not valid") from error
    if now >= found.expires_at:
        raise InvalidToken("this unsubscribe link has expired; change your preferences in the app")
    return found
