"""What a Stripe webhook endpoint answers once the event is durably on Kafka."""

from typing import Literal

from pydantic import BaseModel


class WebhookReceived(BaseModel):
    received: Literal[True]
