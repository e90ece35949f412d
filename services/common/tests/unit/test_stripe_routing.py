"""by_stripe_type: each handler is given every run of consecutive events it
handles, in delivery order; another endpoint's events and types no handler
takes are not the service's business."""

import asyncio

from common.applying import Applying, by_stripe_type
from contracts.events.stripe import StripeEventReceived, StripeEventReceivedData


def stripe_event(n: int, stripe_type: str, *, connect: bool = False) -> StripeEventReceived:
    return StripeEventReceived.new(
        StripeEventReceivedData(stripe_event_id=f"evt_{n}", type=stripe_type, connect=connect, livemode=False,
                                created=1_700_000_000 + n, payload={}),
        producer="gateway", creator_id=None,
    )


def test_each_handler_gets_its_runs_in_delivery_order_several_types_in_one_run() -> None:
    given: list[tuple[str, list[str]]] = []

    def recording(name: str):
        async def handle(events, applying) -> None:
            given.append((name, [event.data.stripe_event_id for event in events]))
        return handle

    refunds, successes = recording("refunds"), recording("successes")
    route = by_stripe_type({"refund.created": refunds, "refund.updated": refunds,
                            "payment_intent.succeeded": successes}, connect=False)
    events = [
        stripe_event(1, "refund.created"), stripe_event(2, "refund.updated"),
        stripe_event(3, "account.updated"),  # no handler: skipped, the run goes on
        stripe_event(4, "refund.created"),
        stripe_event(5, "payment_intent.succeeded"), stripe_event(6, "payment_intent.succeeded"),
        stripe_event(7, "refund.updated", connect=True),  # the Connect endpoint's: another service's
        stripe_event(8, "refund.updated"),
    ]
    asyncio.run(route(events, Applying(session=None, needs=None)))
    assert given == [
        ("refunds", ["evt_1", "evt_2", "evt_4"]),
        ("successes", ["evt_5", "evt_6"]),
        ("refunds", ["evt_8"]),
    ]
