"""The events payments applies: stripe.event.received, each Stripe type to the
handler of its concern. Each runs inside the consumer's transaction, after the
inbox has claimed the event id (see common.consumers): a Stripe event delivered
twice (same evt id) is dropped there. The same news under another evt id is
dropped by the state machines, so only the first transition emits.
"""

from common.applying import by_stripe_type
from contracts.events.stripe import StripeEventReceived
from payments.handlers.disputes import on_charge_disputes
from payments.handlers.payment_events import (
    on_charges_succeeded_or_updated,
    on_payment_intents_payment_failed,
    on_payment_intents_succeeded,
)
from payments.handlers.refunds import on_charges_refunded, on_refund_events
from payments.handlers.registry import Needs, handlers

__all__ = ["Needs", "handlers"]

# Connected accounts' events (payouts, account updates) are not payments'. Each
# run of one handler's types in a batch costs a constant number of statements
# (its reads, its writes, its announcements), whatever its length.
handlers.on(StripeEventReceived)(by_stripe_type({
    "payment_intent.succeeded": on_payment_intents_succeeded,
    "payment_intent.payment_failed": on_payment_intents_payment_failed,
    "charge.succeeded": on_charges_succeeded_or_updated,
    "charge.updated": on_charges_succeeded_or_updated,
    "charge.refunded": on_charges_refunded,
    "refund.created": on_refund_events,
    "refund.updated": on_refund_events,
    "refund.failed": on_refund_events,
    "charge.refund.updated": on_refund_events,
    "charge.dispute.created": on_charge_disputes,
    "charge.dispute.updated": on_charge_disputes,
    "charge.dispute.closed": on_charge_disputes,
    "charge.dispute.funds_withdrawn": on_charge_disputes,
    "charge.dispute.funds_reinstated": on_charge_disputes,
}, connect=False))
