"""Topic names (= event types), the model each topic carries, and the DLQ rule."""

from contracts.envelope import Event
from contracts.events.debts import DebtCreated, DebtDeducted, DebtSettled
from contracts.events.disputes import (
    DisputeClosed,
    DisputeCreated,
    DisputeFundsReinstated,
    DisputeFundsWithdrawn,
    DisputeUpdated,
)
from contracts.events.ledger import BalanceChanged
from contracts.events.notifications import NotificationCreated
from contracts.events.payments import PaymentFailed, PaymentFeeRecorded, PaymentNeedsReview, PaymentSucceeded
from contracts.events.payouts import (
    PayoutApproved,
    PayoutBlocked,
    PayoutCanceled,
    PayoutFailed,
    PayoutFundsRejected,
    PayoutFundsReserved,
    PayoutPaid,
    PayoutProcessing,
    PayoutRejected,
    PayoutRequested,
)
from contracts.events.refunds import RefundCreated, RefundFailed
from contracts.events.stripe import StripeEventReceived

STRIPE_EVENT_RECEIVED = StripeEventReceived.TOPIC
PAYMENT_SUCCEEDED = PaymentSucceeded.TOPIC
PAYMENT_FAILED = PaymentFailed.TOPIC
PAYMENT_FEE_RECORDED = PaymentFeeRecorded.TOPIC
PAYMENT_NEEDS_REVIEW = PaymentNeedsReview.TOPIC
LEDGER_BALANCE_CHANGED = BalanceChanged.TOPIC
NOTIFICATION_CREATED = NotificationCreated.TOPIC
REFUND_CREATED = RefundCreated.TOPIC
REFUND_FAILED = RefundFailed.TOPIC
DISPUTE_CREATED = DisputeCreated.TOPIC
DISPUTE_UPDATED = DisputeUpdated.TOPIC
DISPUTE_CLOSED = DisputeClosed.TOPIC
DISPUTE_FUNDS_WITHDRAWN = DisputeFundsWithdrawn.TOPIC
DISPUTE_FUNDS_REINSTATED = DisputeFundsReinstated.TOPIC
DEBT_CREATED = DebtCreated.TOPIC
DEBT_DEDUCTED = DebtDeducted.TOPIC
DEBT_SETTLED = DebtSettled.TOPIC
PAYOUT_REQUESTED = PayoutRequested.TOPIC
PAYOUT_FUNDS_RESERVED = PayoutFundsReserved.TOPIC
PAYOUT_FUNDS_REJECTED = PayoutFundsRejected.TOPIC
PAYOUT_APPROVED = PayoutApproved.TOPIC
PAYOUT_REJECTED = PayoutRejected.TOPIC
PAYOUT_CANCELED = PayoutCanceled.TOPIC
PAYOUT_BLOCKED = PayoutBlocked.TOPIC
PAYOUT_PROCESSING = PayoutProcessing.TOPIC
PAYOUT_PAID = PayoutPaid.TOPIC
PAYOUT_FAILED = PayoutFailed.TOPIC

EVENTS: dict[str, type[Event]] = {
    model.TOPIC: model
    for model in (
        StripeEventReceived,
        PaymentSucceeded,
        PaymentFailed,
        PaymentFeeRecorded,
        PaymentNeedsReview,
        BalanceChanged,
        NotificationCreated,
        RefundCreated,
        RefundFailed,
        DisputeCreated,
        DisputeUpdated,
        DisputeClosed,
        DisputeFundsWithdrawn,
        DisputeFundsReinstated,
        DebtCreated,
        DebtDeducted,
        DebtSettled,
        PayoutRequested,
        PayoutFundsReserved,
        PayoutFundsRejected,
        PayoutApproved,
        PayoutRejected,
        PayoutCanceled,
        PayoutBlocked,
        PayoutProcessing,
        PayoutPaid,
        PayoutFailed,
    )
}

ALL: tuple[str, ...] = tuple(EVENTS)

DLQ_SUFFIX = ".dlq"


def dlq(topic: str) -> str:
    """Where a message that keeps failing on `topic` is parked, with its error."""
    return topic + DLQ_SUFFIX
