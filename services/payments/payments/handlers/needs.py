"""What payments' handlers are given beside their events."""

from dataclasses import dataclass

from common.applying import Applying
from payments.stripe_gateway import StripeGateway

PRODUCER = "payments"  # the envelope's producer of every event payments emits


@dataclass(frozen=True)
class Needs:
    """What payments' handlers need beside their events: Stripe, for the few
    event types that must ask it (e.g. for a charge's fee)."""

    stripe: StripeGateway


PaymentsApplying = Applying[Needs]
