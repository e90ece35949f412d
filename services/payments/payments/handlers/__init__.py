"""The events payments applies: stripe.event.received, each Stripe type to the
handler of its concern. Each runs inside the consumer's transaction, after the
inbox has claimed the event id (see common.consumers): a Stripe event delivered
twice (same evt id) is dropped there. The same news under another evt id is
dropped by the state machines, so only the first transition emits.
"""

from common.applying import EventHandlers, by_stripe_type
from contracts.events.stripe import StripeEventReceived
from payments.handlers.disputes import on_charge_dispute
from payments.handlers.needs import Needs
from payments.handlers.payment_events import (
    on_charge_succeeded_or_updated,
    on_payment_intent_payment_failed,
    on_payment_intents_succeeded,
)
from payments.handlers.refunds import on_charge_refunded, on_refund_event

__all__ = ["Needs", "handlers"]

# Connected accounts' events (payouts, account updates) are not payments'.
handlers: EventHandlers[Needs] = EventHandlers()
handlers.on(StripeEventReceived)(by_stripe_type({
    "payment_intent.payment_failed": on_payment_intent_payment_failed,
    "charge.succeeded": on_charge_succeeded_or_updated,
    "charge.updated": on_charge_succeeded_or_updated,
    "charge.refunded": on_charge_refunded,
    "refund.created": on_refund_event,
    "refund.updated": on_refund_event,
    "refund.failed": on_refund_event,
    "charge.refund.updated": on_refund_event,
    "charge.dispute.created": on_charge_dispute,
    "charge.dispute.updated": on_charge_dispute,
    "charge.dispute.closed": on_charge_dispute,
    "charge.dispute.funds_withdrawn": on_charge_dispute,
    "charge.dispute.funds_reinstated": on_charge_dispute,
}, set_based={"payment_intent.succeeded": on_payment_intents_succeeded}, connect=False))
