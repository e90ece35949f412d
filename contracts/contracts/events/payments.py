"""Events payments emits about a fan's payment."""

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from contracts.envelope import Event, EventData
from contracts.money import Currency, MinorUnits


class PaymentSucceededData(EventData):
    payment_id: str
    offer_id: str | None = None
    fan_id: str
    creator_id: str
    price_minor: MinorUnits = Field(description="What the fan paid")
    creator_share_minor: MinorUnits = Field(description="ceil(price * share_bps / 10000)")
    platform_fee_minor: MinorUnits = Field(description="price - creator share")
    currency: Currency
    stripe_payment_intent_id: str
    stripe_charge_id: str | None = None
    succeeded_at: datetime


class PaymentSucceeded(Event[PaymentSucceededData]):
    TOPIC: ClassVar[str] = "payment.succeeded"


class PaymentFailedData(EventData):
    payment_id: str
    offer_id: str | None = None
    fan_id: str
    creator_id: str
    price_minor: MinorUnits
    currency: Currency
    stripe_payment_intent_id: str
    failure_code: str | None = None
    failure_message: str | None = None


class PaymentFailed(Event[PaymentFailedData]):
    TOPIC: ClassVar[str] = "payment.failed"


class PaymentFeeRecordedData(EventData):
    """The charge's balance transaction: Stripe's fee and, when the platform
    settles in another currency than the charge's, the conversion Stripe made.
    The settlement fields are absent on events from before they were added:
    then the charge is taken as settled in `currency`, unconverted."""

    payment_id: str
    creator_id: str
    fee_minor: MinorUnits = Field(description="Stripe's processing fee, absorbed by the platform")
    currency: Currency = Field(description="Currency of the balance transaction (the settlement currency)")
    stripe_balance_transaction_id: str
    charge_amount_minor: MinorUnits | None = Field(
        default=None, description="The charge's amount, in charge_currency (the payment's price)"
    )
    charge_currency: Currency | None = Field(default=None, description="The charge's (the payment's) currency")
    settlement_amount_minor: MinorUnits | None = Field(
        default=None, description="The balance transaction's amount: the charge as booked, in `currency`"
    )
    exchange_rate: str | None = Field(
        default=None,
        description="Stripe's exchange_rate as a decimal string (charge amount x rate = settlement amount); "
        "absent when nothing was converted",
        pattern=r"^[0-9]+(\.[0-9]+)?$",
    )


class PaymentFeeRecorded(Event[PaymentFeeRecordedData]):
    TOPIC: ClassVar[str] = "payment.fee_recorded"


class PaymentNeedsReviewData(EventData):
    """Stripe reported a success that does not match the payment: nothing was credited."""

    payment_id: str
    offer_id: str | None = None
    fan_id: str
    creator_id: str
    price_minor: MinorUnits = Field(description="What the payment is for (the offer's price when it was opened)")
    currency: Currency
    amount_received_minor: int | None = Field(description="Stripe's amount_received, as reported (None: absent)")
    received_currency: str | None = Field(description="Stripe's currency, as reported (None: absent)")
    stripe_payment_intent_id: str
    reason: str


class PaymentNeedsReview(Event[PaymentNeedsReviewData]):
    TOPIC: ClassVar[str] = "payment.needs_review"
