"""Each event the ledger applies, published to the real Kafka and read back from
the real PostgreSQL: the right entry, once; debts and their announcements."""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from common.tables import outbox
from contracts.events.debts import DebtCreated
from contracts.events.disputes import (
    DisputeClosed,
    DisputeClosedData,
    DisputeCreated,
    DisputeData,
    DisputeFundsData,
    DisputeFundsReinstated,
    DisputeFundsWithdrawn,
)
from contracts.events.ledger import BalanceChanged
from contracts.events.payments import PaymentFeeRecorded, PaymentFeeRecordedData, PaymentSucceeded, PaymentSucceededData
from contracts.events.payouts import PayoutRequested, PayoutRequestedData
from contracts.events.refunds import RefundCreated, RefundCreatedData, RefundFailed, RefundFailedData
from ledger import domain, models
from services.ledger.tests.integration import applied
from tests.support.polling import eventually
from tests.support.internal_calls import as_caller


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def headers(user_id: str, role: str) -> dict[str, str]:
    return as_caller("ledger", user_id, role)


def payment(creator: str, price: int = 10000, share: int = 8500, currency: str = "EUR") -> PaymentSucceeded:
    payment_id = new_id("pay")
    return PaymentSucceeded.new(
        PaymentSucceededData(
            payment_id=payment_id, fan_id="fan_1", creator_id=creator, price_minor=price,
            creator_share_minor=share, platform_fee_minor=price - share, currency=currency,
            stripe_payment_intent_id=f"pi_{payment_id}", succeeded_at=datetime.now(UTC),
        ),
        producer="payments", creator_id=creator,
    )


def refund(paid: PaymentSucceeded, amount: int, clawback: int, refund_id: str | None = None) -> RefundCreated:
    refund_id = refund_id or new_id("ref")
    return RefundCreated.new(
        RefundCreatedData(
            refund_id=refund_id, payment_id=paid.data.payment_id, creator_id=paid.data.creator_id,
            stripe_refund_id=f"re_{refund_id}", amount_minor=amount, currency=paid.data.currency,
            creator_clawback_minor=clawback, refunded_total_minor=amount,
        ),
        producer="payments", creator_id=paid.data.creator_id,
    )


def refund_failed(created: RefundCreated, *, was_succeeded: bool = True) -> RefundFailed:
    data = created.data
    return RefundFailed.new(
        RefundFailedData(
            refund_id=data.refund_id, payment_id=data.payment_id, creator_id=data.creator_id,
            stripe_refund_id=data.stripe_refund_id, amount_minor=data.amount_minor, currency=data.currency,
            creator_clawback_minor=data.creator_clawback_minor, was_succeeded=was_succeeded,
        ),
        producer="payments", creator_id=data.creator_id,
    )


def dispute_data(paid: PaymentSucceeded, dispute_id: str, amount: int, share: int, status: str) -> dict:
    return dict(
        dispute_id=dispute_id, stripe_dispute_id=f"dp_{dispute_id}", payment_id=paid.data.payment_id,
        creator_id=paid.data.creator_id, amount_minor=amount, currency=paid.data.currency,
        creator_share_minor=share, status=status, reason="fraudulent",
    )


def funds(model, paid: PaymentSucceeded, dispute_id: str, amount: int, fee: int, transaction_id: str | None = None):
    """One balance transaction of a dispute, as payments announces it."""
    transaction_id = transaction_id or f"txn_{uuid.uuid4().hex}"
    return model.new(
        DisputeFundsData(
            dispute_id=dispute_id, payment_id=paid.data.payment_id, creator_id=paid.data.creator_id,
            amount_minor=amount, fee_minor=fee, currency=paid.data.currency,
            stripe_balance_transaction_id=transaction_id, stripe_balance_transaction_ids=[transaction_id],
        ),
        producer="payments", creator_id=paid.data.creator_id,
    )


def dispute_events(paid: PaymentSucceeded, amount: int, share: int, fee: int, outcome: str,
                   dispute_id: str | None = None) -> list:
    """A dispute's life as payments emits it: opened, funds out, (funds back,) closed."""
    dispute_id, creator = dispute_id or new_id("dsp"), paid.data.creator_id
    events = [
        DisputeCreated.new(DisputeData(**dispute_data(paid, dispute_id, amount, share, "needs_response")),
                           producer="payments", creator_id=creator),
        funds(DisputeFundsWithdrawn, paid, dispute_id, amount, fee),
    ]
    if outcome == "won":
        events.append(funds(DisputeFundsReinstated, paid, dispute_id, amount, fee))
    events.append(
        DisputeClosed.new(DisputeClosedData(**dispute_data(paid, dispute_id, amount, share, outcome), outcome=outcome),
                          producer="payments", creator_id=creator)
    )
    return events


def transaction_reference(movement) -> str:
    return f"balance_transaction:{movement.data.stripe_balance_transaction_id}"


async def entries(db, reference: str) -> dict[str, dict[str, int]]:
    """kind -> {account: amount} of the entries about one object."""
    async with db.transaction() as session:
        rows = await session.execute(
            sa.select(models.JournalEntry.kind, models.PostingRow.account, models.PostingRow.amount_minor)
            .join(models.PostingRow, models.PostingRow.entry_id == models.JournalEntry.id)
            .where(models.JournalEntry.reference == reference)
        )
    found: dict[str, dict[str, int]] = {}
    for kind, account, amount in rows:
        found.setdefault(kind, {})[account] = found.get(kind, {}).get(account, 0) + int(amount)
    return found


async def entry_count(db, reference: str) -> int:
    async with db.transaction() as session:
        return await session.scalar(
            sa.select(sa.func.count()).where(models.JournalEntry.reference == reference)
        )


async def posted(db, kind: str, reference: str) -> dict[str, int]:
    async def check():
        return (await entries(db, reference)).get(kind)

    check.__name__ = f"{kind} entry for {reference}"
    return await eventually(check)


async def balance(db, creator: str, currency: str = "EUR") -> domain.CreatorBalance:
    async with db.transaction() as session:
        return await models.creator_balance(session, creator, currency)


async def outbox_events(db, model, creator: str) -> list:
    async with db.transaction() as session:
        payloads = await session.scalars(
            sa.select(outbox.c.payload).where(outbox.c.topic == model.TOPIC, outbox.c.key == creator.encode())
            .order_by(outbox.c.id)
        )
        return [model.model_validate_json(p) for p in payloads]


async def drain_available(db, creator: str, amount: int, currency: str = "EUR") -> None:
    """A payout request the ledger reserves (available -> reserved), applied
    directly, so a later refund or dispute finds available short."""
    request = PayoutRequested.new(
        PayoutRequestedData(payout_id=new_id("po"), creator_id=creator, currency=currency, amount_minor=amount,
                            minimum_minor=0, requested_by=creator),
        producer="payouts", creator_id=creator,
    )
    async with db.transaction() as session:
        await applied.apply(session, request)
    assert (await balance(db, creator, currency)).reserved_minor >= amount


def amounts(b: domain.CreatorBalance) -> tuple[int, int, int, int]:
    return b.available_minor, b.disputed_minor, b.reserved_minor, b.debt_minor


async def test_payment_delivered_twice_or_announced_twice_posts_once(client, db, publish_events) -> None:
    creator = new_id("creator")
    paid = payment(creator)
    # same event redelivered, and a second event about the same payment
    again = PaymentSucceeded.new(paid.data, producer="payments", creator_id=creator)
    fee = PaymentFeeRecorded.new(
        PaymentFeeRecordedData(payment_id=paid.data.payment_id, creator_id=creator, fee_minor=175,
                               currency="EUR", stripe_balance_transaction_id=new_id("txn")),
        producer="payments", creator_id=creator,
    )
    await publish_events(paid, paid, again, fee, fee)
    reference = f"payment:{paid.data.payment_id}"
    assert await posted(db, "payment", reference) == {
        "stripe:balance": 10000, f"creator:{creator}:available": -8500, "platform:revenue": -1500,
    }
    assert await posted(db, "processing_fee", reference) == {"platform:processing_fees": 175, "stripe:balance": -175}
    assert await entry_count(db, reference) == 2
    assert amounts(await balance(db, creator)) == (8500, 0, 0, 0)  # the fee never touches the creator
    announced = await outbox_events(db, BalanceChanged, creator)
    assert [e.data.available_minor for e in announced] == [8500]


async def test_partial_refund_covered_by_available_takes_the_clawback_and_opens_no_debt(
    client, db, publish_events
) -> None:
    creator = new_id("creator")
    paid = payment(creator)
    await publish_events(paid)
    await posted(db, "payment", f"payment:{paid.data.payment_id}")
    created = refund(paid, amount=4000, clawback=3400)
    await publish_events(created, created)
    assert await posted(db, "refund", f"refund:{created.data.refund_id}") == {
        "stripe:balance": -4000, f"creator:{creator}:available": 3400, "platform:revenue": 600,
    }
    assert amounts(await balance(db, creator)) == (5100, 0, 0, 0)
    assert await outbox_events(db, DebtCreated, creator) == []
    assert [e.data.available_minor for e in await outbox_events(db, BalanceChanged, creator)] == [8500, 5100]


async def test_refund_with_a_shortfall_opens_a_debt_announces_it_and_blocks_payouts(
    client, db, publish_events
) -> None:
    creator = new_id("creator")
    paid = payment(creator)
    await publish_events(paid)
    await posted(db, "payment", f"payment:{paid.data.payment_id}")
    await drain_available(db, creator, 8000)
    created = refund(paid, amount=10000, clawback=8500)
    await publish_events(created)

    assert await posted(db, "refund", f"refund:{created.data.refund_id}") == {
        "stripe:balance": -10000, f"creator:{creator}:available": 500,
        f"creator:{creator}:debt": 8000, "platform:revenue": 1500,
    }
    assert amounts(await balance(db, creator)) == (0, 0, 8000, 8000)
    [announced] = await outbox_events(db, DebtCreated, creator)
    assert (announced.data.amount_minor, announced.data.cause_type, announced.data.cause_id,
            announced.data.total_debt_minor) == (8000, "refund", created.data.refund_id, 8000)
    assert announced.causation_id == created.event_id

    response = await client.get(f"/balances/{creator}", headers=headers(creator, "creator"))
    assert response.status_code == 200, response.text
    assert response.json()["balances"] == [
        {"currency": "EUR", "available_minor": 0, "disputed_minor": 0, "reserved_minor": 8000,
         "debt_minor": 8000, "payouts_blocked": True}
    ]
    debts = (await client.get("/debts", headers=headers(creator, "creator"))).json()["debts"]
    assert [(d["cause_type"], d["cause_id"], d["amount_minor"], d["remaining_minor"], d["status"]) for d in debts] == [
        ("refund", created.data.refund_id, 8000, 8000, "OPEN")
    ]


async def test_new_earnings_while_in_debt_credit_available_and_leave_the_debt(client, db, publish_events) -> None:
    creator = new_id("creator")
    paid = payment(creator)
    await publish_events(paid)
    await posted(db, "payment", f"payment:{paid.data.payment_id}")
    await drain_available(db, creator, 8500)
    created = refund(paid, amount=10000, clawback=8500)
    await publish_events(created)
    await posted(db, "refund", f"refund:{created.data.refund_id}")
    later = payment(creator, price=2000, share=1700)
    await publish_events(later)
    await posted(db, "payment", f"payment:{later.data.payment_id}")
    assert amounts(await balance(db, creator)) == (1700, 0, 8500, 8500)


async def test_failed_refund_is_reversed_and_its_debt_is_cancelled(client, db, publish_events) -> None:
    creator = new_id("creator")
    paid = payment(creator)
    await publish_events(paid)
    await posted(db, "payment", f"payment:{paid.data.payment_id}")
    await drain_available(db, creator, 8000)
    created = refund(paid, amount=10000, clawback=8500)
    await publish_events(created)
    refund_entry = await posted(db, "refund", f"refund:{created.data.refund_id}")

    never_succeeded = refund_failed(refund(paid, amount=100, clawback=85), was_succeeded=False)
    failed = refund_failed(created)
    # one key, one partition: once `failed` is applied, `never_succeeded` was too
    await publish_events(never_succeeded, failed, failed)
    reversal = await posted(db, "refund_reversal", f"refund:{created.data.refund_id}")
    assert reversal == {account: -amount for account, amount in refund_entry.items()}
    assert await entries(db, f"refund:{never_succeeded.data.refund_id}") == {}
    assert amounts(await balance(db, creator)) == (500, 0, 8000, 0)

    debts = (await client.get(f"/debts?creator_id={creator}", headers=headers("admin_1", "admin"))).json()["debts"]
    assert [(d["amount_minor"], d["remaining_minor"], d["reversed_minor"], d["status"]) for d in debts] == [
        (8000, 0, 8000, "REVERSED")
    ]
    blocked = (await client.get(f"/balances/{creator}", headers=headers(creator, "creator"))).json()
    assert blocked["balances"][0]["payouts_blocked"] is False


async def test_lost_dispute_after_a_partial_refund_leaves_exact_balances(client, db, publish_events) -> None:
    creator = new_id("creator")
    paid = payment(creator)
    await publish_events(paid)
    await posted(db, "payment", f"payment:{paid.data.payment_id}")
    await publish_events(created := refund(paid, amount=4000, clawback=3400))
    await posted(db, "refund", f"refund:{created.data.refund_id}")
    # dispute on the 60.00 left: frozen = floor(8500 * 10000 / 10000) - floor(8500 * 4000 / 10000) = 5100
    opened, withdrawn, closed = dispute_events(paid, amount=6000, share=5100, fee=2000, outcome="lost")
    reference = f"dispute:{opened.data.dispute_id}"

    await publish_events(opened)
    assert await posted(db, "dispute_opened", reference) == {
        f"creator:{creator}:available": 5100, f"creator:{creator}:disputed": -5100,
    }
    assert amounts(await balance(db, creator)) == (0, 5100, 0, 0)
    await publish_events(withdrawn, closed, closed)
    await posted(db, "dispute_closed", reference)
    assert await posted(db, "dispute_funds_withdrawn", transaction_reference(withdrawn)) == {
        "stripe:balance": -8000, "platform:dispute_fees": 2000, "stripe:disputed_funds": 6000,
    }
    assert await entries(db, reference) == {
        "dispute_opened": {f"creator:{creator}:available": 5100, f"creator:{creator}:disputed": -5100},
        "dispute_closed": {f"creator:{creator}:disputed": 5100, "platform:revenue": 900,
                           "stripe:disputed_funds": -6000},
    }
    assert amounts(await balance(db, creator)) == (0, 0, 0, 0)
    assert await outbox_events(db, DebtCreated, creator) == []


async def test_won_dispute_with_a_shortfall_keeps_the_debt_and_returns_the_frozen_share(
    client, db, publish_events
) -> None:
    creator = new_id("creator")
    paid = payment(creator)
    await publish_events(paid)
    await posted(db, "payment", f"payment:{paid.data.payment_id}")
    await drain_available(db, creator, 6000)
    opened, withdrawn, reinstated, closed = dispute_events(paid, amount=10000, share=8500, fee=1500, outcome="won")
    reference = f"dispute:{opened.data.dispute_id}"

    await publish_events(opened, opened)
    assert await posted(db, "dispute_opened", reference) == {
        f"creator:{creator}:available": 2500, f"creator:{creator}:debt": 6000, f"creator:{creator}:disputed": -8500,
    }
    assert amounts(await balance(db, creator)) == (0, 8500, 6000, 6000)
    [debt] = await outbox_events(db, DebtCreated, creator)
    assert (debt.data.cause_type, debt.data.cause_id, debt.data.amount_minor) == ("dispute", opened.data.dispute_id, 6000)

    await publish_events(withdrawn, reinstated, closed)
    assert await posted(db, "dispute_closed", reference) == {
        f"creator:{creator}:disputed": 8500, f"creator:{creator}:available": -8500,
    }
    assert await posted(db, "dispute_funds_reinstated", transaction_reference(reinstated)) == {
        "stripe:balance": 11500, "platform:dispute_fees": -1500, "stripe:disputed_funds": -10000,
    }
    assert await posted(db, "dispute_funds_withdrawn", transaction_reference(withdrawn)) == {
        "stripe:balance": -11500, "platform:dispute_fees": 1500, "stripe:disputed_funds": 10000,
    }
    # As designed, winning unfreezes the whole share; the debt is deducted at payout time.
    assert amounts(await balance(db, creator)) == (8500, 0, 6000, 6000)


async def test_debts_are_listed_for_their_creator_and_any_for_an_admin(client, db, publish_events) -> None:
    creator, other = new_id("creator"), new_id("creator")
    for who in (creator, other):
        paid = payment(who)
        await publish_events(paid)
        await posted(db, "payment", f"payment:{paid.data.payment_id}")
        await drain_available(db, who, 8500)
        await publish_events(created := refund(paid, amount=5000, clawback=4250))
        await posted(db, "refund", f"refund:{created.data.refund_id}")

    own = await client.get("/debts", headers=headers(creator, "creator"))
    assert [d["creator_id"] for d in own.json()["debts"]] == [creator]
    assert (await client.get(f"/debts?creator_id={other}", headers=headers(creator, "creator"))).status_code == 404
    assert (await client.get("/debts", headers=headers(creator, "fan"))).status_code == 403
    admin = await client.get(f"/debts?creator_id={other}&status=OPEN", headers=headers("admin_1", "admin"))
    assert [(d["creator_id"], d["remaining_minor"]) for d in admin.json()["debts"]] == [(other, 4250)]
    settled = await client.get(f"/debts?creator_id={other}&status=SETTLED", headers=headers("admin_1", "admin"))
    assert settled.json()["debts"] == []
    bad = await client.get("/debts?status=PAID", headers=headers("admin_1", "admin"))
    assert bad.status_code == 400
    everyone = await client.get("/debts?limit=500", headers=headers("admin_1", "admin"))
    assert {creator, other} <= {d["creator_id"] for d in everyone.json()["debts"]}


async def test_refund_read_before_its_payment_waits_parked_then_posts(
    client, db, publish_events
) -> None:
    # Each event type is its own topic: the ledger may read a refund before the
    # payment. It waits parked, nothing is lost or dead-lettered.
    creator = new_id("creator")
    paid = payment(creator)
    created = refund(paid, amount=4000, clawback=3400)
    await publish_events(created)

    async def parked() -> int:
        async with db.transaction() as session:
            return await session.scalar(
                sa.text("SELECT count(*) FROM parked_events WHERE event_id = :id"), {"id": created.event_id}
            )

    await eventually(parked)
    await publish_events(paid)
    assert await posted(db, "refund", f"refund:{created.data.refund_id}") == {
        "stripe:balance": -4000, f"creator:{creator}:available": 3400, "platform:revenue": 600,
    }
    assert amounts(await balance(db, creator)) == (5100, 0, 0, 0)
    assert await parked() == 0
