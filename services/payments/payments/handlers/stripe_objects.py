"""Reading the Stripe objects that stripe.event.received carries."""

from typing import Any

from common.applying import PermanentError
from contracts.events.stripe import StripeEventReceived


def event_object(event: StripeEventReceived) -> dict[str, Any]:
    """The event's `data.object` (a PaymentIntent, a Charge, a Refund, a Dispute)."""
    try:
        obj = event.data.payload["data"]["object"]
        if isinstance(obj, dict) and isinstance(obj["id"], str):
            return obj
    except (KeyError, TypeError):
        pass
    raise PermanentError(f"Stripe event {event.data.stripe_event_id} has no data.object.id")


def object_id(value: object) -> str | None:
    """An expandable Stripe field's id, whether Stripe sent the id or the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None
