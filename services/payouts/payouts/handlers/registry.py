"""Payouts' handler registry and what its handlers need."""

from dataclasses import dataclass

from common.applying import Applying, EventHandlers
from payouts.domain.errors import UnappliableEvent
from payouts.stripe_gateway import StripeGateway


@dataclass(frozen=True)
class Needs:
    """What payouts' handlers need beside their events: Stripe, to take a
    transfer back when the bank refuses a payout."""

    stripe: StripeGateway


PayoutsApplying = Applying[Needs]
handlers: EventHandlers[Needs] = EventHandlers(permanent=(UnappliableEvent,))
