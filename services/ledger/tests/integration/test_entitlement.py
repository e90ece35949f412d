"""The creator's entitlement on a payment, through the real Kafka and PostgreSQL:
every dispute balance transaction booked once by its own id, and refunds,
refund failures and disputes posting the difference of one entitlement
function, so the order they come in never moves a unit."""

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa

from common.db import Database, migrate

from contracts.events.disputes import (
    DisputeClosed,
    DisputeClosedData,
    DisputeCreated,
    DisputeData,
    DisputeFundsData,
    DisputeFundsReinstated,
    DisputeFundsWithdrawn,
)
from contracts.events.refunds import RefundFailed, RefundFailedData
from ledger import domain, handlers, models
from services.ledger.tests.integration import applied
from services.ledger.tests.integration.test_postings import (
    amounts,
    balance,
    dispute_data,
    entries,
    funds,
    new_id,
    payment,
    posted,
    refund,
    transaction_reference,
)

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


async def test_every_balance_transaction_of_a_dispute_is_booked_once_by_its_own_id(
    client, db, publish_events
) -> None:
    creator = new_id("creator")
    paid = payment(creator)
    dispute_id = new_id("dsp")
    withdrawal = funds(DisputeFundsWithdrawn, paid, dispute_id, amount=10000, fee=2000)
    counter_fee = funds(DisputeFundsWithdrawn, paid, dispute_id, amount=0, fee=1500)
    reinstatement = funds(DisputeFundsReinstated, paid, dispute_id, amount=10000, fee=1500)
    # the same transaction announced again by another event posts nothing more
    again = DisputeFundsWithdrawn.new(counter_fee.data, producer="payments", creator_id=creator)
    await publish_events(paid, withdrawal, counter_fee, reinstatement, withdrawal, again)

    for movement, kind in ((withdrawal, "dispute_funds_withdrawn"), (counter_fee, "dispute_funds_withdrawn"),
                           (reinstatement, "dispute_funds_reinstated")):
        await posted(db, kind, transaction_reference(movement))
    booked = {}
    for movement in (withdrawal, counter_fee, reinstatement):
        for postings in (await entries(db, transaction_reference(movement))).values():
            for account, amount in postings.items():
                booked[account] = booked.get(account, 0) + amount
    # 20.00 + 15.00 of fees, 15.00 given back: 20.00 of dispute fees, not 5.00
    assert booked == {"stripe:balance": -2000, "platform:dispute_fees": 2000, "stripe:disputed_funds": 0}


async def test_a_movement_from_a_producer_sending_only_the_list_of_ids_is_keyed_by_its_one_id(
    client, db, publish_events
) -> None:
    creator = new_id("creator")
    paid = payment(creator)
    txn = new_id("txn")
    legacy = DisputeFundsWithdrawn.new(
        DisputeFundsData(dispute_id=new_id("dsp"), payment_id=paid.data.payment_id, creator_id=creator,
                         amount_minor=3000, fee_minor=1500, currency="EUR", stripe_balance_transaction_ids=[txn]),
        producer="payments", creator_id=creator,
    )
    await publish_events(legacy)
    assert await posted(db, "dispute_funds_withdrawn", f"balance_transaction:{txn}") == {
        "stripe:balance": -4500, "platform:dispute_fees": 1500, "stripe:disputed_funds": 3000,
    }


async def test_a_failed_refund_gives_back_what_the_recomputed_cumulative_clawback_says(
    client, db, publish_events
) -> None:
    creator = new_id("creator")
    paid = payment(creator)  # 100.00, share 85.00
    await publish_events(paid)
    await posted(db, "payment", f"payment:{paid.data.payment_id}")
    # floor(8500 * t / 10000) after each: 850, then 5101
    first, second = refund(paid, amount=1001, clawback=850), refund(paid, amount=5001, clawback=4251)
    await publish_events(first, second)
    await posted(db, "refund", f"refund:{second.data.refund_id}")
    failed = RefundFailed.new(
        RefundFailedData(
            refund_id=first.data.refund_id, payment_id=paid.data.payment_id, creator_id=creator,
            stripe_refund_id=first.data.stripe_refund_id, amount_minor=1001, currency="EUR",
            creator_clawback_minor=851, was_succeeded=True,  # 5101 - floor(8500 * 5001 / 10000)
        ),
        producer="payments", creator_id=creator,
    )
    await publish_events(failed)
    reversal = await posted(db, "refund_reversal", f"refund:{first.data.refund_id}")
    assert reversal[f"creator:{creator}:available"] == -851
    rest = refund(paid, amount=4999, clawback=4250)
    await publish_events(rest)
    await posted(db, "refund", f"refund:{rest.data.refund_id}")
    # everything refunded but the failed refund: exactly the share back, no unit of debt
    assert amounts(await balance(db, creator)) == (0, 0, 0, 0)


@pytest.mark.parametrize("dispute_first", [True, False], ids=["dispute-then-refund", "refund-then-dispute"])
async def test_a_won_dispute_returns_the_cumulative_difference_whatever_came_first(
    client, db, publish_events, dispute_first: bool
) -> None:
    creator = new_id("creator")
    paid = payment(creator)
    await publish_events(paid)
    await posted(db, "payment", f"payment:{paid.data.payment_id}")
    dispute_id = new_id("dsp")
    reference = f"dispute:{dispute_id}"
    # the figures payments computes in its own order: floor(8500 * 8999 / 10000), or 8500 - 850 after the refund
    frozen, clawback = (7649, 851) if dispute_first else (7650, 850)
    opened = DisputeCreated.new(DisputeData(**dispute_data(paid, dispute_id, 8999, frozen, "needs_response")),
                                producer="payments", creator_id=creator)
    refunded = refund(paid, amount=1001, clawback=clawback)
    steps = [(opened, "dispute_opened", reference), (refunded, "refund", f"refund:{refunded.data.refund_id}")]
    for event, kind, where in steps if dispute_first else reversed(steps):
        await publish_events(event)
        await posted(db, kind, where)
    assert amounts(await balance(db, creator)) == (0, 7650, 0, 0)  # all but the refund's share is frozen

    closed = DisputeClosed.new(
        DisputeClosedData(**dispute_data(paid, dispute_id, 8999, frozen, "won"), outcome="won"),
        producer="payments", creator_id=creator,
    )
    await publish_events(closed)
    await posted(db, "dispute_closed", reference)
    # 85.00 - floor(8500 * 1001 / 10000): the refund alone stands
    assert amounts(await balance(db, creator)) == (7650, 0, 0, 0)


async def test_payments_posted_before_the_entitlement_tables_get_their_terms_and_refund_as_before(infra) -> None:
    name = f"ledger_terms_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(infra.asyncpg_dsn("ledger", owner=True))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = infra.database_url("ledger", owner=True).rsplit("/", 1)[0] + f"/{name}"
    database = Database(url)
    try:
        await asyncio.to_thread(migrate, MIGRATIONS, url, "0004")  # the last revision without them
        creator = new_id("creator")
        async with database.transaction() as session:  # a payment entry as revision 0004 stored it
            entry_id = uuid.uuid4()
            await session.execute(
                sa.text("INSERT INTO journal_entries (id, cause_event_id, kind, creator_id, reference) "
                        "VALUES (:id, :cause, 'payment', :creator, 'payment:pay_old')"),
                {"id": entry_id, "cause": uuid.uuid4(), "creator": creator})
            for posting in domain.payment_postings(creator, 10000, 8500, "EUR"):
                await session.execute(
                    sa.text("INSERT INTO postings (entry_id, account, currency, amount_minor) "
                            "VALUES (:entry, :account, :currency, :amount)"),
                    {"entry": entry_id, "account": posting.account, "currency": posting.currency,
                     "amount": posting.amount_minor})
        await asyncio.to_thread(migrate, MIGRATIONS, url)

        async with database.transaction() as session:
            terms = (await session.execute(sa.select(
                models.PaymentTerms.payment_id, models.PaymentTerms.creator_id, models.PaymentTerms.currency,
                models.PaymentTerms.price_minor, models.PaymentTerms.creator_share_minor,
            ))).all()
            assert terms == [("pay_old", creator, "EUR", 10000, 8500)]
            old = payment(creator)
            old = old.model_copy(update={"data": old.data.model_copy(update={"payment_id": "pay_old"})})
            await applied.apply(session, refund(old, amount=1001, clawback=850))
            assert (await models.creator_balance(session, creator, "EUR")).available_minor == 7650
    finally:
        await database.dispose()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_what_cannot_be_booked_by_the_rule_is_refused_with_its_reason_not_guessed(db) -> None:
    creator = new_id("creator")
    paid = payment(creator)
    nameless = DisputeFundsWithdrawn.new(
        DisputeFundsData(dispute_id=new_id("dsp"), payment_id=paid.data.payment_id, creator_id=creator,
                         amount_minor=100, fee_minor=0, currency="EUR", stripe_balance_transaction_ids=[]),
        producer="payments", creator_id=creator,
    )
    elsewhere = refund(paid, amount=100, clawback=85)
    elsewhere = elsewhere.model_copy(update={"data": elsewhere.data.model_copy(update={"currency": "USD"})})
    async with db.transaction() as session:
        await applied.apply(session, paid)
    for event, reason in ((nameless, "names no one balance transaction"), (elsewhere, "not .* in USD")):
        with pytest.raises(handlers.handlers.permanent, match=reason):  # dead-lettered at once, with that reason
            async with db.transaction() as session:
                await applied.apply(session, event)
