"""Stripe's processing fee, read through the SDK from stripe-mock, whose fixtures
the test stack derives with a non-zero balance transaction fee
(deploy/stack/stripe_fixtures.py)."""

import json
import uuid

import sqlalchemy as sa

from common.tables import outbox
from services.payments.tests.integration.test_stripe_events import (  # noqa: F401 - fixtures
    applied,
    deliver,
    eventually,
    payment,
    producer,
    stripe_event,
)
from stack.stripe_fixtures import FEE_MINOR

FIXTURE_AMOUNT_MINOR = 100  # stripe-mock's balance transaction: 1.00 USD (its fixtures give no exchange_rate)


def charge_object(opened: dict, charge_id: str, **fields) -> dict:
    return {"id": charge_id, "object": "charge", "amount": 10_000, "currency": "eur", "status": "succeeded",
            "paid": True, "payment_intent": opened["stripe_payment_intent_id"], "balance_transaction": None,
            "metadata": {}, **fields}


async def fees_recorded(db, payment_id: str) -> list[dict]:
    async with db.transaction() as session:
        rows = await session.scalars(sa.select(outbox.c.payload).where(outbox.c.topic == "payment.fee_recorded"))
        return [e for e in map(json.loads, rows) if e["data"]["payment_id"] == payment_id]


async def test_the_fee_is_read_through_stripe_and_recorded_once(db, open_payment, deliver, stripe_http):
    opened = await open_payment()
    payment_id, charge_id = opened["payment_id"], f"ch_{uuid.uuid4().hex[:14]}"
    txn = f"txn_{uuid.uuid4().hex[:14]}"  # each balance transaction is booked once in the whole ledger
    without_txn = stripe_event("charge.succeeded", charge_object(opened, charge_id))
    with_txn = stripe_event("charge.updated", charge_object(opened, charge_id, balance_transaction=txn))
    again = stripe_event("charge.updated", charge_object(opened, charge_id, balance_transaction=txn))

    await deliver(without_txn)
    await eventually(lambda: applied(db, without_txn))
    assert (await payment(db, payment_id)).stripe_fee_minor is None  # no balance transaction yet
    await deliver(with_txn, again)
    await eventually(lambda: applied(db, with_txn, again))

    row = await payment(db, payment_id)
    # the fixtures' balance transaction is in USD: the fee keeps its own currency
    assert (row.stripe_fee_minor, row.stripe_fee_currency) == (FEE_MINOR, "USD")
    assert row.stripe_balance_transaction_id.startswith("txn_")
    assert (row.creator_share_minor, row.platform_fee_minor) == (8_500, 1_500)  # the fee changes no share
    [event] = await fees_recorded(db, payment_id)
    assert event["creator_id"] == row.creator_id
    assert event["causation_id"] == str(with_txn.event_id)
    # ... and says how the EUR charge was booked on the USD balance, for the ledger to convert
    assert event["data"] == {"payment_id": payment_id, "creator_id": row.creator_id, "fee_minor": FEE_MINOR,
                             "currency": "USD", "stripe_balance_transaction_id": row.stripe_balance_transaction_id,
                             "charge_amount_minor": 10_000, "charge_currency": "EUR",
                             "settlement_amount_minor": FIXTURE_AMOUNT_MINOR, "exchange_rate": None}
    reads = [r for r in stripe_http.requests if f"/v1/charges/{charge_id}" in r.url]
    assert len(reads) == 1  # the second charge.updated found the fee recorded
    assert reads[0].method == "get"
    assert "expand[0]=balance_transaction" in reads[0].url.replace("%5B", "[").replace("%5D", "]")
    assert "Idempotency-Key" not in reads[0].headers


async def test_an_expanded_balance_transaction_in_the_event_is_used_as_is(db, open_payment, deliver, stripe_http):
    opened = await open_payment()
    charge_id = f"ch_{uuid.uuid4().hex[:14]}"
    txn = {"id": f"txn_{uuid.uuid4().hex[:14]}", "object": "balance_transaction", "amount": 10_000,
           "currency": "eur", "fee": 320, "net": 9_680}
    hook = stripe_event("charge.succeeded", charge_object(opened, charge_id, balance_transaction=txn))

    await deliver(hook)
    await eventually(lambda: applied(db, hook))

    [event] = await fees_recorded(db, opened["payment_id"])
    assert (event["data"]["fee_minor"], event["data"]["currency"]) == (320, "EUR")
    assert (event["data"]["settlement_amount_minor"], event["data"]["exchange_rate"]) == (10_000, None)
    assert event["data"]["stripe_balance_transaction_id"] == txn["id"]
    assert not [r for r in stripe_http.requests if charge_id in r.url]


async def test_a_charge_settled_in_another_currency_carries_stripes_conversion_even_without_a_fee(
    db, open_payment, deliver
):
    opened = await open_payment()
    txn = {"id": f"txn_{uuid.uuid4().hex[:14]}", "object": "balance_transaction", "amount": 10_870,
           "currency": "usd", "fee": 0, "net": 10_870, "exchange_rate": 1.087}
    hook = stripe_event("charge.succeeded", charge_object(opened, f"ch_{uuid.uuid4().hex[:14]}", balance_transaction=txn))

    await deliver(hook)
    await eventually(lambda: applied(db, hook))

    [event] = await fees_recorded(db, opened["payment_id"])
    assert {key: event["data"][key] for key in (
        "fee_minor", "currency", "charge_amount_minor", "charge_currency", "settlement_amount_minor", "exchange_rate",
    )} == {"fee_minor": 0, "currency": "USD", "charge_amount_minor": 10_000, "charge_currency": "EUR",
           "settlement_amount_minor": 10_870, "exchange_rate": "1.087"}


async def test_charges_that_did_not_succeed_or_are_not_ours_record_no_fee(db, open_payment, deliver):
    opened = await open_payment()
    failed = stripe_event("charge.updated", charge_object(opened, f"ch_{uuid.uuid4().hex[:14]}", status="failed",
                                                          balance_transaction=f"txn_{uuid.uuid4().hex[:14]}"))
    foreign = stripe_event("charge.succeeded", charge_object({"stripe_payment_intent_id": "pi_not_ours_" + uuid.uuid4().hex},
                                                             f"ch_{uuid.uuid4().hex[:14]}", balance_transaction=f"txn_{uuid.uuid4().hex[:14]}"))
    await deliver(failed, foreign)
    await eventually(lambda: applied(db, failed, foreign))

    assert (await payment(db, opened["payment_id"])).stripe_fee_minor is None
    assert await fees_recorded(db, opened["payment_id"]) == []
