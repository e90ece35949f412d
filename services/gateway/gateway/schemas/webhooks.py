"""What a Stripe webhook endpoint answers once the event is durably on Kafka."""

from typing import Literal

from pydantic import BaseModel, ConfigDict


class WebhookReceived(BaseModel):
    model_config = ConfigDict(example={"received": True})

    received: Literal[True]
