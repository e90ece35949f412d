"""Payouts as the ledger sees them, through the real Kafka and PostgreSQL: a
request reserved (debt deducted) or refused, then released, paid, or failed."""

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from contracts.events.debts import DebtDeducted, DebtSettled
from contracts.events.payouts import (
    FundsReservedData,
    PayoutCanceled,
    PayoutDecisionData,
    PayoutFailed,
    PayoutFailedData,
    PayoutFundsRejected,
    PayoutFundsReserved,
    PayoutPaid,
    PayoutPaidData,
    PayoutRejected,
    PayoutRequested,
    PayoutRequestedData,
)
from ledger import cli, models
from ledger.settings import Settings
from services.ledger.tests.integration.test_postings import (
    amounts,
    balance,
    entries,
    headers,
    new_id,
    outbox_events,
    payment,
    posted,
    refund,
)
from tests.support.polling import eventually


def requested(creator: str, amount: int | None, *, currency: str = "EUR", minimum: int = 1000) -> PayoutRequested:
    return PayoutRequested.new(
        PayoutRequestedData(
            payout_id=new_id("po"), creator_id=creator, currency=currency, amount_minor=amount,
            minimum_minor=minimum, requested_by=creator,
        ),
        producer="payouts", creator_id=creator,
    )


def decided(model, request: PayoutRequested, actor: str = "admin_1"):
    data = request.data
    return model.new(
        PayoutDecisionData(payout_id=data.payout_id, creator_id=data.creator_id, currency=data.currency,
                           amount_minor=data.amount_minor or 0, actor_id=actor, reason="test"),
        producer="payouts", creator_id=data.creator_id,
    )


def paid(request: PayoutRequested) -> PayoutPaid:
    data = request.data
    return PayoutPaid.new(
        PayoutPaidData(payout_id=data.payout_id, creator_id=data.creator_id, currency=data.currency,
                       amount_minor=data.amount_minor or 0, stripe_payout_id=f"po_{data.payout_id}",
                       paid_at=datetime.now(UTC)),
        producer="payouts", creator_id=data.creator_id,
    )


def failed(request: PayoutRequested, *, was_paid: bool) -> PayoutFailed:
    data = request.data
    return PayoutFailed.new(
        PayoutFailedData(payout_id=data.payout_id, creator_id=data.creator_id, currency=data.currency,
                         amount_minor=data.amount_minor or 0, stripe_payout_id=f"po_{data.payout_id}",
                         failure_code="account_closed", failure_message="closed", was_paid=was_paid),
        producer="payouts", creator_id=data.creator_id,
    )


async def reservation(db, payout_id: str) -> models.PayoutReservation | None:
    async with db.transaction() as session:
        return await session.scalar(
            sa.select(models.PayoutReservation).where(models.PayoutReservation.payout_id == payout_id)
        )


async def reservation_status(db, payout_id: str, status: str) -> models.PayoutReservation:
    async def check():
        found = await reservation(db, payout_id)
        return found if found is not None and found.status == status else None

    check.__name__ = f"reservation {payout_id} {status}"
    return await eventually(check)


async def parked(db, event_id: uuid.UUID) -> int:
    async with db.transaction() as session:
        return await session.scalar(
            sa.text("SELECT count(*) FROM parked_events WHERE event_id = :id"), {"id": event_id}
        )


async def debts_of(client, creator: str) -> list[tuple[str, int, int, str]]:
    """(cause id, amount, remaining, status), oldest first."""
    response = await client.get(f"/debts?creator_id={creator}", headers=headers("admin_1", "admin"))
    assert response.status_code == 200, response.text
    debts = response.json()["debts"][::-1]  # newest first in the API
    return [(d["cause_id"], d["amount_minor"], d["remaining_minor"], d["status"]) for d in debts]


async def earn(db, publish_events, creator: str, share: int = 8500, price: int = 10000):
    paid_ = payment(creator, price=price, share=share)
    await publish_events(paid_)
    await posted(db, "payment", f"payment:{paid_.data.payment_id}")
    return paid_


async def reserve(db, publish_events, request: PayoutRequested) -> dict[str, int]:
    await publish_events(request)
    return await posted(db, "payout_reserved", f"payout:{request.data.payout_id}")


async def in_debt(db, publish_events, creator: str, clawbacks: list[int]) -> list:
    """A payment whose share sits in a pending payout, then refunds that run short,
    each taking back `clawbacks` of the share (the ledger computes it from the
    payment's totals: after T refunded, floor(8500 * T / 10000) is taken back)."""
    earned = await earn(db, publish_events, creator)
    await reserve(db, publish_events, requested(creator, None))
    refunds = []
    refunded = taken_back = 0
    for clawback in clawbacks:
        taken_back += clawback
        amount = -(-taken_back * 10000 // 8500) - refunded  # the least total refunded that takes `taken_back`
        refunded += amount
        created = refund(earned, amount=amount, clawback=clawback)
        await publish_events(created)
        await posted(db, "refund", f"refund:{created.data.refund_id}")
        refunds.append(created)
    return refunds


async def test_request_within_available_reserves_the_gross_once(client, db, publish_events) -> None:
    creator = new_id("creator")
    await earn(db, publish_events, creator)
    request = requested(creator, 8000)
    again = PayoutRequested.new(request.data, producer="payouts", creator_id=creator)
    await publish_events(request, request, again)
    reference = f"payout:{request.data.payout_id}"
    assert await posted(db, "payout_reserved", reference) == {
        f"creator:{creator}:available": 8000, f"creator:{creator}:reserved": -8000,
    }
    assert amounts(await balance(db, creator)) == (500, 0, 8000, 0)
    [reserved] = await outbox_events(db, PayoutFundsReserved, creator)
    assert reserved.data == FundsReservedData(
        payout_id=request.data.payout_id, creator_id=creator, currency="EUR", amount_minor=8000,
        debt_deducted_minor=0, net_minor=8000, deductions=[],
    )
    assert reserved.causation_id == request.event_id
    assert await entries(db, reference) == {"payout_reserved": await posted(db, "payout_reserved", reference)}
    assert (await reservation(db, request.data.payout_id)).status == "RESERVED"


async def test_debt_above_the_threshold_refuses_the_request_and_posts_nothing(client, db, publish_events) -> None:
    creator = new_id("creator")
    await in_debt(db, publish_events, creator, [6000])  # 60.00 > 50.00
    await earn(db, publish_events, creator)
    request = requested(creator, 500)  # 60.00 - 5.00 would still be above the threshold
    await publish_events(request)
    refused = await reservation_status(db, request.data.payout_id, "REFUSED")
    assert refused.refusal_reason == "debt_above_threshold"
    [rejected] = await outbox_events(db, PayoutFundsRejected, creator)
    assert (rejected.data.reason, rejected.data.available_minor, rejected.data.debt_minor) == (
        "debt_above_threshold", 8500, 6000,
    )
    assert await entries(db, f"payout:{request.data.payout_id}") == {}
    assert amounts(await balance(db, creator)) == (8500, 0, 8500, 6000)

    # payouts blocks it; a decision about it finds nothing reserved and changes nothing
    canceled = decided(PayoutCanceled, request)
    await publish_events(canceled)
    await eventually(lambda: _applied(db, canceled.event_id))
    assert await parked(db, canceled.event_id) == 0
    assert amounts(await balance(db, creator)) == (8500, 0, 8500, 6000)


async def _applied(db, event_id: uuid.UUID) -> bool:
    async with db.transaction() as session:
        return bool(await session.scalar(sa.text("SELECT count(*) FROM inbox WHERE event_id = :id"), {"id": event_id}))


@pytest.mark.parametrize(
    ("reason", "request_args"),
    [("currency_mismatch", dict(amount=5000, currency="USD")), ("insufficient_available", dict(amount=9000)),
     ("below_minimum", dict(amount=500))],
)
async def test_request_refused_for_its_reason(client, db, publish_events, reason, request_args) -> None:
    creator = new_id("creator")
    await earn(db, publish_events, creator)
    amount = request_args.pop("amount")
    request = requested(creator, amount, **request_args)
    await publish_events(request)
    assert (await reservation_status(db, request.data.payout_id, "REFUSED")).refusal_reason == reason
    [rejected] = await outbox_events(db, PayoutFundsRejected, creator)
    assert rejected.data.reason == reason
    assert amounts(await balance(db, creator)) == (8500, 0, 0, 0)


async def test_debt_below_the_threshold_is_deducted_oldest_first_and_settled(client, db, publish_events) -> None:
    creator = new_id("creator")
    first, second = await in_debt(db, publish_events, creator, [1000, 2000])
    await earn(db, publish_events, creator)
    request = requested(creator, 5000)
    assert await reserve(db, publish_events, request) == {
        f"creator:{creator}:available": 5000, f"creator:{creator}:reserved": -2000, f"creator:{creator}:debt": -3000,
    }
    assert amounts(await balance(db, creator)) == (3500, 0, 8500 + 2000, 0)
    *_, reserved = await outbox_events(db, PayoutFundsReserved, creator)  # after the pending one of in_debt
    assert (reserved.data.amount_minor, reserved.data.debt_deducted_minor, reserved.data.net_minor) == (
        5000, 3000, 2000,
    )
    deducted = await outbox_events(db, DebtDeducted, creator)
    assert [(d.data.amount_minor, d.data.remaining_minor, d.data.payout_id) for d in deducted] == [
        (1000, 0, request.data.payout_id), (2000, 0, request.data.payout_id),
    ]
    assert [d.debt_id for d in reserved.data.deductions] == [d.data.debt_id for d in deducted]
    settled = await outbox_events(db, DebtSettled, creator)
    assert [(s.data.debt_id, s.data.amount_minor) for s in settled] == [
        (deducted[0].data.debt_id, 1000), (deducted[1].data.debt_id, 2000),
    ]
    assert await debts_of(client, creator) == [
        (first.data.refund_id, 1000, 0, "SETTLED"), (second.data.refund_id, 2000, 0, "SETTLED"),
    ]


@pytest.mark.parametrize(
    ("decision", "status"),
    [
        (lambda r: decided(PayoutRejected, r), "RELEASED"),
        (lambda r: decided(PayoutCanceled, r, r.data.creator_id), "RELEASED"),
        (lambda r: failed(r, was_paid=False), "FAILED"),
    ],
    ids=["rejected", "canceled", "failed_before_paid"],
)
async def test_released_payout_restores_balances_and_debts_exactly(
    client, db, publish_events, decision, status
) -> None:
    creator = new_id("creator")
    await in_debt(db, publish_events, creator, [3000])
    await earn(db, publish_events, creator)
    before_balance, before_debts = amounts(await balance(db, creator)), await debts_of(client, creator)
    request = requested(creator, 2000)  # all of it to the debt: net 0, the debt partly deducted
    await reserve(db, publish_events, request)
    assert [d[2:] for d in await debts_of(client, creator)] == [(1000, "PARTIALLY_DEDUCTED")]

    release = decision(request)
    await publish_events(release, release)
    assert await posted(db, "payout_released", f"payout:{request.data.payout_id}") == {
        f"creator:{creator}:available": -2000, f"creator:{creator}:debt": 2000,  # net 0: nothing from reserved
    }
    await reservation_status(db, request.data.payout_id, status)
    assert amounts(await balance(db, creator)) == before_balance
    assert await debts_of(client, creator) == before_debts


async def test_paid_payout_leaves_reserved_for_the_stripe_balance_once(client, db, publish_events) -> None:
    creator = new_id("creator")
    await earn(db, publish_events, creator)
    request = requested(creator, None)
    await reserve(db, publish_events, request)
    done = paid(request)
    again = PayoutPaid.new(done.data, producer="payouts", creator_id=creator)
    await publish_events(done, done, again)
    reference = f"payout:{request.data.payout_id}"
    assert await posted(db, "payout_paid", reference) == {f"creator:{creator}:reserved": 8500, "stripe:balance": -8500}
    await reservation_status(db, request.data.payout_id, "PAID")
    assert amounts(await balance(db, creator)) == (0, 0, 0, 0)
    assert set(await entries(db, reference)) == {"payout_reserved", "payout_paid"}


async def test_failure_after_payment_returns_the_funds_and_restores_the_debt(client, db, publish_events) -> None:
    creator = new_id("creator")
    [owed] = await in_debt(db, publish_events, creator, [3000])
    await earn(db, publish_events, creator)
    before = amounts(await balance(db, creator))
    request = requested(creator, None)
    await reserve(db, publish_events, request)
    # the failure is read before the payment (another topic): it waits for it
    failure = failed(request, was_paid=True)
    await publish_events(failure)
    await eventually(lambda: parked(db, failure.event_id))
    await publish_events(paid(request))
    reference = f"payout:{request.data.payout_id}"
    assert await posted(db, "payout_failed_after_paid", reference) == {
        "stripe:balance": 5500, f"creator:{creator}:available": -8500, f"creator:{creator}:debt": 3000,
    }
    assert (await entries(db, reference))["payout_paid"] == {
        f"creator:{creator}:reserved": 5500, "stripe:balance": -5500,
    }
    await reservation_status(db, request.data.payout_id, "FAILED")
    assert amounts(await balance(db, creator)) == before
    assert await debts_of(client, creator) == [(owed.data.refund_id, 3000, 3000, "OPEN")]


async def test_payment_read_before_its_request_is_parked_then_applied(client, db, publish_events) -> None:
    creator = new_id("creator")
    await earn(db, publish_events, creator)
    request = requested(creator, 6000)
    done = paid(request)
    await publish_events(done)
    await eventually(lambda: parked(db, done.event_id))
    await publish_events(request)
    assert await posted(db, "payout_paid", f"payout:{request.data.payout_id}") == {
        f"creator:{creator}:reserved": 6000, "stripe:balance": -6000,
    }
    assert await parked(db, done.event_id) == 0
    assert amounts(await balance(db, creator)) == (2500, 0, 0, 0)


async def test_the_invariant_check_passes_after_payouts(client, db, publish_events) -> None:
    creator = new_id("creator")
    await in_debt(db, publish_events, creator, [2000])
    await earn(db, publish_events, creator)
    request = requested(creator, None)
    await reserve(db, publish_events, request)
    await publish_events(decided(PayoutRejected, request))
    await reservation_status(db, request.data.payout_id, "RELEASED")
    result = await cli.audit(Settings().database_url)
    assert result.problems == []
    assert result.reservations >= 2
