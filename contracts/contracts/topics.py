"""Topic names (= event types), the model each topic carries, and the DLQ rule."""

from contracts.envelope import Event
from contracts.events.ledger import BalanceChanged
from contracts.events.notifications import NotificationCreated
from contracts.events.payments import PaymentFailed, PaymentFeeRecorded, PaymentSucceeded
from contracts.events.stripe import StripeEventReceived

STRIPE_EVENT_RECEIVED = StripeEventReceived.TOPIC
PAYMENT_SUCCEEDED = PaymentSucceeded.TOPIC
PAYMENT_FAILED = PaymentFailed.TOPIC
PAYMENT_FEE_RECORDED = PaymentFeeRecorded.TOPIC
LEDGER_BALANCE_CHANGED = BalanceChanged.TOPIC
NOTIFICATION_CREATED = NotificationCreated.TOPIC

EVENTS: dict[str, type[Event]] = {
    model.TOPIC: model
    for model in (
        StripeEventReceived,
        PaymentSucceeded,
        PaymentFailed,
        PaymentFeeRecorded,
        BalanceChanged,
        NotificationCreated,
    )
}

ALL: tuple[str, ...] = tuple(EVENTS)

DLQ_SUFFIX = ".dlq"


def dlq(topic: str) -> str:
    """Where a message that keeps failing on `topic` is parked, with its error."""
    return topic + DLQ_SUFFIX
