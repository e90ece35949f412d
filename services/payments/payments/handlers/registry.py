"""Payments' handler registry and what its handlers need."""

from dataclasses import dataclass

from common.applying import Applying, EventHandlers
from payments.stripe_gateway import StripeGateway

PRODUCER = "payments"  # the envelope's producer of every event payments emits


@dataclass(frozen=True)
class Needs:
    """What payments' handlers need beside their events: Stripe, for the few
    event types that must ask it (e.g. for a charge's fee)."""

    stripe: StripeGateway


PaymentsApplying = Applying[Needs]
handlers: EventHandlers[Needs] = EventHandlers()
