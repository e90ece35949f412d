"""A creator's money as payments and payouts emit it, and as the ledger reads it:
hypothesis strategies for the model-based test (test_money_model.py).

`lives`: payments (with fees), partial refunds, refunds failing after they
succeeded (or before), disputes (funds withdrawn with their fee, a counter fee,
won with the funds reinstated or lost, or still open), payout requests (an
amount or all available) then rejected, canceled, failed, paid or failed after
paid. `deliveries`: each event type is its own Kafka topic, so the ledger reads
any interleaving of the topics that keeps each topic's order; some events come
twice (redelivered, or announced again by a new event).
"""

from datetime import UTC, datetime

from hypothesis import strategies as st

from contracts.envelope import Event
from contracts.events.disputes import (
    DisputeClosed,
    DisputeClosedData,
    DisputeCreated,
    DisputeData,
    DisputeFundsData,
    DisputeFundsReinstated,
    DisputeFundsWithdrawn,
)
from contracts.events.payments import PaymentFeeRecorded, PaymentFeeRecordedData, PaymentSucceeded, PaymentSucceededData
from contracts.events.payouts import (
    PayoutCanceled,
    PayoutDecisionData,
    PayoutFailed,
    PayoutFailedData,
    PayoutPaid,
    PayoutPaidData,
    PayoutRejected,
    PayoutRequested,
    PayoutRequestedData,
)
from contracts.events.refunds import RefundCreated, RefundCreatedData, RefundFailed, RefundFailedData

CURRENCY = "EUR"


def _owed_back(share: int, taken: int, price: int) -> int:
    return share * min(taken, price) // price


@st.composite
def lives(draw, creator: str) -> list[Event]:
    """One creator's events in the order payments and payouts emit them."""
    events: list[Event] = []
    payments: list[dict] = []
    ids = iter(range(1, 10_000))

    def new_id(prefix: str) -> str:
        return f"{prefix}_{next(ids)}"

    def emit(model: type[Event], data) -> None:
        events.append(model.new(data, producer="test", creator_id=creator))

    def dispute_data(payment: dict, dispute: dict, status: str) -> dict:
        return dict(
            dispute_id=dispute["id"], stripe_dispute_id=f"dp_{dispute['id']}", payment_id=payment["id"],
            creator_id=creator, amount_minor=dispute["amount"], currency=CURRENCY,
            creator_share_minor=dispute["share"], status=status,
        )

    def dispute_funds(model: type[Event], payment: dict, dispute: dict, amount: int, fee: int) -> None:
        transaction = new_id("txn")
        emit(model, DisputeFundsData(
            dispute_id=dispute["id"], payment_id=payment["id"], creator_id=creator, amount_minor=amount,
            fee_minor=fee, currency=CURRENCY, stripe_balance_transaction_id=transaction,
            stripe_balance_transaction_ids=[transaction],
        ))

    for _ in range(draw(st.integers(1, 14))):
        step = draw(st.sampled_from(
            ["pay", "pay", "refund", "refund", "refund_fails", "dispute", "dispute_closes", "payout", "payout"]
        ))
        if step == "pay" or not payments:
            price = draw(st.integers(50, 20_000))
            payment = {"id": new_id("pay"), "price": price, "share": -(-price * 8500 // 10000), "taken": 0,
                       "refunds": {}, "dispute": None, "disputed": False}
            payments.append(payment)
            emit(PaymentSucceeded, PaymentSucceededData(
                payment_id=payment["id"], fan_id="fan", creator_id=creator, price_minor=price,
                creator_share_minor=payment["share"], platform_fee_minor=price - payment["share"], currency=CURRENCY,
                stripe_payment_intent_id=f"pi_{payment['id']}", succeeded_at=datetime.now(UTC),
            ))
            if draw(st.booleans()):
                emit(PaymentFeeRecorded, PaymentFeeRecordedData(
                    payment_id=payment["id"], creator_id=creator, fee_minor=draw(st.integers(0, 500)),
                    currency=CURRENCY, stripe_balance_transaction_id=new_id("txn"),
                ))
            continue
        payment = draw(st.sampled_from(payments))
        left = payment["price"] - payment["taken"]
        if step == "refund" and left > 0:
            amount = draw(st.integers(1, left))
            refund_id = new_id("ref")
            clawback = _owed_back(payment["share"], payment["taken"] + amount, payment["price"]) - _owed_back(
                payment["share"], payment["taken"], payment["price"])
            payment["taken"] += amount
            payment["refunds"][refund_id] = amount
            emit(RefundCreated, RefundCreatedData(
                refund_id=refund_id, payment_id=payment["id"], creator_id=creator, stripe_refund_id=f"re_{refund_id}",
                amount_minor=amount, currency=CURRENCY, creator_clawback_minor=clawback,
                refunded_total_minor=sum(payment["refunds"].values()),
            ))
        elif step == "refund_fails":
            succeeded = bool(payment["refunds"]) and draw(st.booleans())
            if succeeded:
                refund_id = draw(st.sampled_from(sorted(payment["refunds"])))
                amount = payment["refunds"].pop(refund_id)
                payment["taken"] -= amount
            else:  # a refund that failed before it ever succeeded: nothing to reverse
                refund_id, amount = new_id("ref"), draw(st.integers(1, payment["price"]))
            emit(RefundFailed, RefundFailedData(
                refund_id=refund_id, payment_id=payment["id"], creator_id=creator, amount_minor=amount,
                currency=CURRENCY, creator_clawback_minor=0, was_succeeded=succeeded,
            ))
        elif step == "dispute" and left > 0 and not payment["disputed"]:
            amount = draw(st.integers(1, left))
            share = _owed_back(payment["share"], payment["taken"] + amount, payment["price"]) - _owed_back(
                payment["share"], payment["taken"], payment["price"])
            dispute = {"id": new_id("dsp"), "amount": amount, "share": share}
            payment["dispute"], payment["disputed"] = dispute, True  # one dispute per charge
            payment["taken"] += amount
            emit(DisputeCreated, DisputeData(**dispute_data(payment, dispute, "needs_response")))
            dispute_funds(DisputeFundsWithdrawn, payment, dispute, amount, draw(st.sampled_from([1500, 2000])))
        elif step == "dispute_closes" and payment["dispute"] is not None:
            dispute, payment["dispute"] = payment["dispute"], None
            counter_fee = draw(st.sampled_from([0, 1500]))
            if counter_fee:
                dispute_funds(DisputeFundsWithdrawn, payment, dispute, 0, counter_fee)
            outcome = draw(st.sampled_from(["won", "lost"]))
            if outcome == "won":
                payment["taken"] -= dispute["amount"]
                dispute_funds(DisputeFundsReinstated, payment, dispute, dispute["amount"], counter_fee)
            emit(DisputeClosed, DisputeClosedData(**dispute_data(payment, dispute, outcome), outcome=outcome))
        elif step == "payout":
            payout_id = new_id("po")
            requested = draw(st.none() | st.integers(1, 20_000))
            emit(PayoutRequested, PayoutRequestedData(
                payout_id=payout_id, creator_id=creator, currency=CURRENCY, amount_minor=requested,
                minimum_minor=draw(st.sampled_from([0, 1000])), requested_by=creator,
            ))
            # payouts moves on whatever the ledger answered; after a refusal the ledger ignores it
            outcome = draw(st.sampled_from(["pending", "rejected", "canceled", "failed", "paid", "paid_then_failed"]))
            decision = dict(payout_id=payout_id, creator_id=creator, currency=CURRENCY, amount_minor=requested or 0)
            if outcome in ("rejected", "canceled"):
                emit(PayoutRejected if outcome == "rejected" else PayoutCanceled,
                     PayoutDecisionData(**decision, actor_id="admin"))
            elif outcome == "failed":
                emit(PayoutFailed, PayoutFailedData(**decision, was_paid=False))
            elif outcome != "pending":
                emit(PayoutPaid, PayoutPaidData(**decision, stripe_payout_id=f"po_{payout_id}",
                                                paid_at=datetime.now(UTC)))
                if outcome == "paid_then_failed":
                    emit(PayoutFailed, PayoutFailedData(**decision, was_paid=True))
    return events


@st.composite
def deliveries(draw, events: list[Event]) -> list[Event]:
    """What the ledger reads: each topic in its order, the topics interleaved at
    random; some events twice (the same event redelivered, or a new event
    announcing the same thing), later on their topic."""
    queues: dict[str, list[Event]] = {}
    for event in events:
        queues.setdefault(event.TOPIC, []).append(event)
    for topic, queue in queues.items():
        for event in list(queue):
            again = draw(st.sampled_from(["no", "no", "no", "no", "redelivered", "announced_again"]))
            if again == "no":
                continue
            copy = event if again == "redelivered" else type(event).new(event.data, producer="test",
                                                                        creator_id=event.creator_id)
            queue.insert(draw(st.integers(queue.index(event) + 1, len(queue))), copy)
    delivered = []
    while any(queues.values()):
        topic = draw(st.sampled_from(sorted(t for t, q in queues.items() if q)))
        delivered.append(queues[topic].pop(0))
    return delivered
