"""Stripe webhook material for tests: events shaped like Stripe's, signed the way
Stripe signs them (stripe-mock sends no webhooks, so tests build their own)."""

import hashlib
import hmac
import secrets
import time
from typing import Any

API_VERSION = "2026-08-26.dahlia"


def sign_stripe_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header value for `payload`: t=<unix s>,v1=<hex HMAC-SHA256
    of "<t>.<payload>" keyed with the endpoint secret (the whole whsec_... string)."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def stripe_event(type: str, obj: dict[str, Any], *, account: str | None = None) -> dict[str, Any]:
    """A Stripe event envelope around `obj` (give it the ids the mock returned).
    `account` makes it a Connect event from that connected account."""
    event: dict[str, Any] = {
        "id": f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": f"req_{secrets.token_hex(7)}", "idempotency_key": None},
        "type": type,
    }
    if account is not None:
        event["account"] = account
    return event
