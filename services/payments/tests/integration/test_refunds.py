"""Refunds against real PostgreSQL, Kafka and stripe-mock: started by an admin
through the API, or made in Stripe's dashboard and heard of by webhook."""

import asyncio
import json
import logging
import uuid

import pytest
import sqlalchemy as sa

from common.tables import outbox
from payments.models import Refund
from services.payments.tests.integration.test_stripe_events import (  # noqa: F401 - fixtures
    applied,
    deliver,
    eventually,
    intent_object,
    payment,
    producer,
    stripe_event,
)


@pytest.fixture
def paid(open_payment, deliver, db):
    """A succeeded payment of `price_minor` EUR (share 85 %, rounded up)."""

    async def pay(price_minor: int = 10_000) -> dict:
        opened = await open_payment(price_minor)
        charge_id = f"ch_{uuid.uuid4().hex[:14]}"
        succeeded = stripe_event("payment_intent.succeeded", intent_object(
            opened["stripe_payment_intent_id"], amount=price_minor, latest_charge=charge_id))
        await deliver(succeeded)
        await eventually(lambda: applied(db, succeeded))
        return opened | {"charge_id": charge_id}

    return pay


FIXTURE_AMOUNT_MINOR = 100  # stripe-mock's balance transaction: 1.00 USD, no exchange_rate


def refund_object(stripe_refund_id: str, opened: dict, amount: int, status: str, **fields) -> dict:
    return {"id": stripe_refund_id, "object": "refund", "amount": amount, "currency": "eur", "status": status,
            "payment_intent": opened["stripe_payment_intent_id"], "charge": opened["charge_id"],
            "metadata": {}, "reason": None, **fields}


def new_refund_id() -> str:
    return f"re_{uuid.uuid4().hex[:14]}"


async def events(db, topic: str, payment_id: str) -> list[dict]:
    async with db.transaction() as session:
        rows = await session.scalars(sa.select(outbox.c.payload).where(outbox.c.topic == topic).order_by(outbox.c.id))
        return [e["data"] for e in map(json.loads, rows) if e["data"]["payment_id"] == payment_id]


async def refunds_of(db, payment_id: str) -> list[Refund]:
    async with db.transaction() as session:
        return list(await session.scalars(sa.select(Refund).where(Refund.payment_id == uuid.UUID(payment_id))))


async def totals(db, payment_id: str) -> tuple[int, int]:
    row = await payment(db, payment_id)
    return row.refunded_minor, row.taken_back_minor


# --- started by an admin ---------------------------------------------------------------


async def test_an_admin_refund_goes_to_stripe_with_its_idempotency_key_and_is_announced_once(
    db, client, as_user, stripe_http, paid, deliver
):
    opened = await paid(10_000)
    payment_id = opened["payment_id"]
    admin = as_user("admin")

    response = await client.post(f"/payments/{payment_id}/refunds", headers=admin,
                                 json={"amount_minor": 4_000, "currency": "eur", "reason": "requested_by_customer"})

    assert response.status_code == 202, response.text
    answer = response.json()
    refund_id = answer["refund_id"]
    assert answer["stripe_refund_id"].startswith("re_")
    # stripe-mock answers every refund `succeeded` at once
    assert (answer["status"], answer["amount_minor"], answer["currency"]) == ("SUCCEEDED", 4_000, "EUR")
    assert (answer["creator_clawback_minor"], answer["requested_by"]) == (3_400, admin.user_id)
    [sent] = [r for r in stripe_http.requests if r.params.get("metadata[refund_id]") == refund_id]
    assert sent.url.split("?")[0].endswith("/v1/refunds")
    assert sent.headers["Idempotency-Key"] == f"refund:{refund_id}"
    assert sent.params == {"payment_intent": opened["stripe_payment_intent_id"], "amount": "4000",
                           "reason": "requested_by_customer",
                           "metadata[refund_id]": refund_id, "metadata[payment_id]": payment_id}
    [created] = await events(db, "refund.created", payment_id)
    # stripe-mock's refund names no balance transaction: booked unconverted (real Stripe names
    # one by id, read as in test_a_refunds_balance_transaction_named_by_id_is_read_from_stripe)
    assert created == {"refund_id": refund_id, "payment_id": payment_id, "creator_id": created["creator_id"],
                       "stripe_refund_id": answer["stripe_refund_id"], "amount_minor": 4_000, "currency": "EUR",
                       "creator_clawback_minor": 3_400, "refunded_total_minor": 4_000,
                       "reason": "requested_by_customer", "balance_transaction_id": None,
                       "settlement_amount_minor": None, "settlement_currency": None, "exchange_rate": None}
    assert created["creator_id"] == (await payment(db, payment_id)).creator_id

    # Stripe's webhooks about the same refund, late, duplicated and out of order.
    obj = refund_object(answer["stripe_refund_id"], opened, 4_000, "succeeded")
    hooks = [stripe_event("refund.updated", obj), stripe_event("refund.created", obj | {"status": "pending"}),
             stripe_event("charge.refund.updated", obj)]
    await deliver(*hooks)
    await eventually(lambda: applied(db, *hooks))

    assert len(await events(db, "refund.created", payment_id)) == 1
    assert await totals(db, payment_id) == (4_000, 4_000)
    [row] = await refunds_of(db, payment_id)
    assert (row.status, row.stripe_refund_id) == ("SUCCEEDED", answer["stripe_refund_id"])
    listed = await client.get(f"/payments/{payment_id}/refunds", headers=admin)
    assert [r["refund_id"] for r in listed.json()] == [refund_id]


async def test_without_an_amount_an_admin_refunds_what_is_left(db, client, as_user, paid):
    opened = await paid(10_000)
    admin = as_user("admin")
    first = await client.post(f"/payments/{opened['payment_id']}/refunds", headers=admin, json={"amount_minor": 2_500})
    rest = await client.post(f"/payments/{opened['payment_id']}/refunds", headers=admin, json={})

    assert (first.status_code, rest.status_code) == (202, 202), rest.text
    assert rest.json()["amount_minor"] == 7_500
    clawbacks = [e["creator_clawback_minor"] for e in await events(db, "refund.created", opened["payment_id"])]
    assert clawbacks == [2_125, 6_375]  # together exactly the share, 8 500
    nothing_left = await client.post(f"/payments/{opened['payment_id']}/refunds", headers=admin, json={})
    assert nothing_left.status_code == 409, nothing_left.text


async def test_bad_refund_requests_get_a_clear_problem_and_store_nothing(db, client, as_user, paid, open_payment):
    opened = await paid(10_000)
    url = f"/payments/{opened['payment_id']}/refunds"
    admin = as_user("admin")
    pending = await open_payment(1_000)

    cases = [
        (url, as_user("fan"), {"amount_minor": 100}, 403),
        (url, as_user("creator"), {"amount_minor": 100}, 403),
        (f"/payments/{uuid.uuid4()}/refunds", admin, {"amount_minor": 100}, 404),
        (f"/payments/{pending['payment_id']}/refunds", admin, {"amount_minor": 100}, 409),
        (url, admin, {"amount_minor": 10_001}, 422),
        (url, admin, {"amount_minor": 0}, 422),
        (url, admin, {"amount_minor": -5}, 422),
        (url, admin, {"amount_minor": "100"}, 400),
        (url, admin, {"amount_minor": 10.0}, 400),
        (url, admin, {"amount_minor": 100, "currency": "USD"}, 422),
        (url, admin, {"amount_minor": 100, "reason": "bored"}, 400),
    ]
    for target, headers, body, status in cases:
        response = await client.post(target, headers=headers, json=body)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")

    assert await refunds_of(db, opened["payment_id"]) == []
    assert await refunds_of(db, pending["payment_id"]) == []


async def test_a_refund_stripe_refuses_is_recorded_failed_and_leaves_the_amount_refundable(
    db, client, as_user, stripe_http, paid
):
    opened = await paid(10_000)
    url = f"/payments/{opened['payment_id']}/refunds"
    stripe_http.refusals.append((400, {"error": {"type": "invalid_request_error", "code": "charge_disputed",
                                                 "message": "Charge has been disputed"}}))

    refused = await client.post(url, headers=as_user("admin"), json={"amount_minor": 10_000})

    assert refused.status_code == 502, refused.text
    problem = refused.json()
    assert (problem["code"], problem["retryable"], problem["refund"]["status"]) == ("charge_disputed", False, "FAILED")
    assert problem["detail"] == "Stripe refused the call (charge_disputed)"  # never Stripe's own words
    [row] = await refunds_of(db, opened["payment_id"])
    assert (row.status, row.failure_reason, row.stripe_refund_id) == ("FAILED", "charge_disputed", None)
    assert await events(db, "refund.failed", opened["payment_id"]) == []
    again = await client.post(url, headers=as_user("admin"), json={"amount_minor": 10_000})
    assert again.status_code == 202, again.text


async def test_concurrent_refunds_never_exceed_the_price(db, client, as_user, paid):
    opened = await paid(10_000)
    url = f"/payments/{opened['payment_id']}/refunds"
    answers = await asyncio.gather(*(client.post(url, headers=as_user("admin"), json={"amount_minor": 3_000})
                                     for _ in range(5)))

    assert sorted(a.status_code for a in answers) == [202, 202, 202, 422, 422]
    assert await totals(db, opened["payment_id"]) == (9_000, 9_000)


# --- heard of by webhook ----------------------------------------------------------------


async def test_dashboard_refunds_adding_up_to_the_price_claw_back_exactly_the_share(db, paid, deliver):
    opened = await paid(9_999)  # share 8 500
    parts = [3_333, 3_333, 3_333]
    for part in parts:
        hook = stripe_event("refund.created", refund_object(new_refund_id(), opened, part, "succeeded"))
        await deliver(hook)
        await eventually(lambda hook=hook: applied(db, hook))

    created = await events(db, "refund.created", opened["payment_id"])
    assert [e["creator_clawback_minor"] for e in created] == [2_833, 2_833, 2_834]
    assert sum(e["creator_clawback_minor"] for e in created) == 8_500
    assert [e["refunded_total_minor"] for e in created] == [3_333, 6_666, 9_999]
    assert all(e["reason"] is None for e in created)
    rows = await refunds_of(db, opened["payment_id"])
    assert {(r.status, r.requested_by) for r in rows} == {("SUCCEEDED", None)}
    assert await totals(db, opened["payment_id"]) == (9_999, 9_999)


@pytest.mark.parametrize(
    "order",
    [
        ("created:pending", "updated:succeeded", "updated:succeeded"),
        ("updated:succeeded", "created:pending", "updated:succeeded"),
        ("updated:succeeded", "updated:succeeded", "created:pending"),
        ("created:requires_action", "updated:pending", "updated:succeeded"),
        ("updated:succeeded", "updated:pending", "created:requires_action"),
    ],
)
async def test_duplicated_and_reordered_refund_events_count_the_refund_once(db, paid, deliver, order):
    opened = await paid(10_000)
    stripe_id = new_refund_id()
    hooks = [stripe_event(f"refund.{kind}", refund_object(stripe_id, opened, 6_000, status))
             for kind, status in (step.split(":") for step in order)]
    for hook in hooks:  # one at a time: each its own Stripe event, in this order
        await deliver(hook)
        await eventually(lambda hook=hook: applied(db, hook))

    [created] = await events(db, "refund.created", opened["payment_id"])
    assert (created["amount_minor"], created["creator_clawback_minor"]) == (6_000, 5_100)
    [row] = await refunds_of(db, opened["payment_id"])
    assert (row.status, row.stripe_refund_id) == ("SUCCEEDED", stripe_id)
    assert await totals(db, opened["payment_id"]) == (6_000, 6_000)


async def test_a_succeeded_refund_that_fails_later_gives_the_clawback_back(db, paid, deliver):
    opened = await paid(10_000)
    stripe_id = new_refund_id()
    succeeded = stripe_event("refund.updated", refund_object(stripe_id, opened, 5_000, "succeeded"))
    failed = stripe_event("charge.refund.updated",
                          refund_object(stripe_id, opened, 5_000, "failed", failure_reason="expired_or_canceled_card"))
    late = stripe_event("refund.updated", refund_object(stripe_id, opened, 5_000, "succeeded"))
    for hook in (succeeded, failed, late):
        await deliver(hook)
        await eventually(lambda hook=hook: applied(db, hook))

    [created] = await events(db, "refund.created", opened["payment_id"])
    [reversed_] = await events(db, "refund.failed", opened["payment_id"])
    assert created["creator_clawback_minor"] == 4_250
    assert (reversed_["was_succeeded"], reversed_["creator_clawback_minor"], reversed_["amount_minor"]) == (
        True, 4_250, 5_000)
    assert reversed_["failure_reason"] == "expired_or_canceled_card"
    assert await totals(db, opened["payment_id"]) == (0, 0)
    [row] = await refunds_of(db, opened["payment_id"])
    assert row.status == "FAILED"


def settlement_of(event: dict) -> tuple:
    return (event["balance_transaction_id"], event["settlement_amount_minor"], event["settlement_currency"],
            event["exchange_rate"])


async def test_a_refund_settled_in_another_currency_carries_stripes_conversion_and_so_does_its_failure(
    db, paid, deliver, stripe_http
):
    """A EUR refund paid from a USD balance: refund.created says what left the
    balance, refund.failed what came back (the failure's own balance transaction)."""
    opened = await paid(10_000)
    stripe_id = new_refund_id()
    paid_out = {"id": f"txn_{uuid.uuid4().hex[:14]}", "object": "balance_transaction", "type": "refund",
                "amount": -1_091, "fee": 0, "net": -1_091, "currency": "usd", "exchange_rate": 1.09}
    came_back = {"id": f"txn_{uuid.uuid4().hex[:14]}", "object": "balance_transaction", "type": "refund_failure",
                 "amount": 1_081, "fee": 0, "net": 1_081, "currency": "usd", "exchange_rate": 1.08}
    succeeded = stripe_event("refund.updated", refund_object(stripe_id, opened, 1_001, "succeeded",
                                                             balance_transaction=paid_out))
    failed = stripe_event("refund.failed", refund_object(
        stripe_id, opened, 1_001, "failed", failure_reason="expired_or_canceled_card",
        balance_transaction=paid_out, failure_balance_transaction=came_back))
    for hook in (succeeded, failed):
        await deliver(hook)
        await eventually(lambda hook=hook: applied(db, hook))

    [created] = await events(db, "refund.created", opened["payment_id"])
    [reversed_] = await events(db, "refund.failed", opened["payment_id"])
    assert settlement_of(created) == (paid_out["id"], 1_091, "USD", "1.09")
    assert settlement_of(reversed_) == (came_back["id"], 1_081, "USD", "1.08")
    assert (created["amount_minor"], created["currency"], created["creator_clawback_minor"]) == (1_001, "EUR", 850)
    assert not [r for r in stripe_http.requests if "/v1/balance_transactions" in r.url]  # expanded: nothing to read


async def test_a_refunds_balance_transaction_named_by_id_is_read_from_stripe(db, paid, deliver, stripe_http):
    opened = await paid(10_000)
    txn_id = f"txn_{uuid.uuid4().hex[:14]}"
    hook = stripe_event("refund.created", refund_object(new_refund_id(), opened, 2_000, "succeeded",
                                                        balance_transaction=txn_id))
    await deliver(hook)
    await eventually(lambda: applied(db, hook))

    [created] = await events(db, "refund.created", opened["payment_id"])
    # stripe-mock's balance transaction (the id asked for): 1.00 USD, no exchange_rate
    assert settlement_of(created) == (txn_id, FIXTURE_AMOUNT_MINOR, "USD", None)
    [read] = [r for r in stripe_http.requests if f"/v1/balance_transactions/{txn_id}" in r.url]
    assert read.method == "get" and "Idempotency-Key" not in read.headers


async def test_a_refund_naming_no_balance_transaction_carries_no_settlement(db, paid, deliver):
    opened = await paid(10_000)
    hook = stripe_event("refund.created", refund_object(new_refund_id(), opened, 2_000, "succeeded"))
    await deliver(hook)
    await eventually(lambda: applied(db, hook))
    [created] = await events(db, "refund.created", opened["payment_id"])
    assert settlement_of(created) == (None, None, None, None)  # the ledger books it unconverted


async def test_a_pending_refund_that_fails_moves_no_money(db, paid, deliver):
    opened = await paid(10_000)
    stripe_id = new_refund_id()
    hooks = [stripe_event("refund.created", refund_object(stripe_id, opened, 1_000, "pending")),
             stripe_event("refund.failed", refund_object(stripe_id, opened, 1_000, "failed", failure_reason="unknown"))]
    for hook in hooks:
        await deliver(hook)
        await eventually(lambda hook=hook: applied(db, hook))

    assert await events(db, "refund.created", opened["payment_id"]) == []
    [failed] = await events(db, "refund.failed", opened["payment_id"])
    assert (failed["was_succeeded"], failed["creator_clawback_minor"]) == (False, 0)
    assert await totals(db, opened["payment_id"]) == (0, 0)


async def test_a_refund_found_by_its_charge_alone_is_recorded(db, paid, deliver):
    opened = await paid(10_000)
    hook = stripe_event("refund.created", refund_object(new_refund_id(), opened, 700, "succeeded", payment_intent=None))
    await deliver(hook)
    await eventually(lambda: applied(db, hook))

    [created] = await events(db, "refund.created", opened["payment_id"])
    assert (created["amount_minor"], created["creator_clawback_minor"]) == (700, 595)


async def test_refunds_of_charges_that_are_not_ours_are_ignored(db, deliver):
    stranger = {"id": new_refund_id(), "object": "refund", "amount": 500, "currency": "eur", "status": "succeeded",
                "payment_intent": f"pi_{uuid.uuid4().hex[:14]}", "charge": f"ch_{uuid.uuid4().hex[:14]}",
                "metadata": {}}
    hook = stripe_event("refund.created", stranger)
    await deliver(hook)
    await eventually(lambda: applied(db, hook))

    async with db.transaction() as session:
        assert await session.scalar(sa.select(Refund).where(Refund.stripe_refund_id == stranger["id"])) is None


async def test_charge_refunded_is_only_a_cross_check(db, paid, deliver, caplog):
    opened = await paid(10_000)
    charge = {"id": opened["charge_id"], "object": "charge", "payment_intent": opened["stripe_payment_intent_id"],
              "amount": 10_000, "amount_refunded": 2_000, "currency": "eur", "refunded": False}
    hook = stripe_event("charge.refunded", charge)
    with caplog.at_level(logging.WARNING, logger="payments.handlers"):
        await deliver(hook)
        await eventually(lambda: applied(db, hook))

    assert any(opened["charge_id"] in r.getMessage() and "2000" in r.getMessage() for r in caplog.records)
    assert await refunds_of(db, opened["payment_id"]) == []
    assert await totals(db, opened["payment_id"]) == (0, 0)
