"""A Stripe webhook event, verified by the gateway and passed on untouched."""

from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import Field

from contracts.envelope import Event, EventData


class StripeEventReceivedData(EventData):
    stripe_event_id: str = Field(description="Stripe's evt_... id")
    type: str = Field(description="Stripe event type, e.g. payment_intent.succeeded")
    account: str | None = Field(
        default=None, description="Connected account id (acct_...) for Connect events"
    )
    connect: bool = Field(description="Arrived on the Connect webhook endpoint")
    livemode: bool
    api_version: str | None = None
    created: int = Field(description="Stripe's creation time, Unix seconds")
    object_id: str | None = Field(default=None, description="id of data.object")
    payload: dict[str, Any] = Field(description="The whole Stripe event as Stripe sent it")


class StripeEventReceived(Event[StripeEventReceivedData]):
    TOPIC: ClassVar[str] = "stripe.event.received"

    @staticmethod
    def event_id_for(stripe_event_id: str) -> UUID:
        """Stripe retries a webhook with the same evt_ id: one envelope id per Stripe
        event lets every consumer's inbox drop the retries."""
        return uuid5(NAMESPACE_URL, f"stripe-event:{stripe_event_id}")

    def key(self) -> bytes | None:
        # The creator is not known at the edge; the object id keeps one payment's
        # (or one dispute's) events in order on one partition.
        key = self.creator_id or self.data.object_id or self.data.stripe_event_id
        return key.encode()
