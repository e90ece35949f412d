"""Model-based: random lives of one creator's money (money_lives.py), applied
through the real ledger handlers on the real PostgreSQL, against a pure
reference model (money_model.py) fed the same deliveries.

Each delivery goes through the consumer's own path (`EventApplier.apply_or_park`:
inbox, handler, parking and release). After every example the creator's
available, disputed, reserved and debt equal the model's, to the unit; the
creator's total equals what the final facts entitle them to, whatever the
order; nothing stays parked; the ledger's invariant check
(ledger.domain.invariants.Audit, what `python -m ledger check` runs) passes on the
creator's journal, debts and reservations; and each payment's own entries give
the creator exactly ledger.domain.entitlement's creator_entitlement and frozen_share
at the payment's totals.

One connection serves every example; each runs in a transaction rolled back at
its end, so examples cost no clean-up and never see each other.
"""

import asyncio
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.applying import Delivery, EventApplier
from common.db import Database, migrate
from common.kafka import encode
from common.tables import parked_events
from contracts.envelope import Event
from ledger import domain, handlers, models
from ledger.domain import entitlement
from ledger.domain.chain import EntryFacts
from ledger.domain.invariants import Audit, DebtRecord, EntryRecord, ReservationRecord
from ledger.settings import Settings
from services.ledger.tests.integration.money_lives import CURRENCY, deliveries, lives
from services.ledger.tests.integration.money_model import Model

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
EXAMPLES = 500


@pytest.fixture(scope="module")
def ledger_db(infra):
    """One connection to the ledger's database, on a loop of the module's own
    (hypothesis runs the examples synchronously)."""
    settings = Settings()
    migrate(MIGRATIONS, settings.owner_database_url)
    with asyncio.Runner() as runner:
        database = Database(settings.database_url, pool_size=1)
        yield runner, database
        runner.run(database.dispose())


async def audit(session, creator: str) -> Audit:
    """`python -m ledger check`'s rules over this creator's journal, debts and reservations."""
    result = Audit()
    entry = models.JournalEntry
    rows = await session.execute(
        sa.select(entry.id, entry.cause_event_id, entry.kind, entry.creator_id, entry.reference, entry.payment_id,
                  entry.dispute_id, entry.fact_amount_minor, entry.stripe_balance_transaction_id,
                  models.PostingRow.account, models.PostingRow.currency, models.PostingRow.amount_minor)
        .join(models.PostingRow, models.PostingRow.entry_id == entry.id)
        .where(entry.creator_id == creator)
        .order_by(entry.seq, models.PostingRow.id)
    )
    entries: dict[uuid.UUID, tuple[tuple, list]] = {}
    for *head, account, currency, amount in rows:
        entries.setdefault(head[0], (tuple(head), []))[1].append(domain.Posting(account, int(amount), currency))
    for (entry_id, cause, kind, creator_id, reference, *facts), postings in entries.values():
        result.add_entry(EntryRecord(str(entry_id), str(cause), kind, tuple(postings), creator_id=creator_id,
                                     reference=reference, facts=EntryFacts(*facts)))
    debts = await session.scalars(sa.select(models.Debt).where(models.Debt.creator_id == creator))
    result.check_debts(
        DebtRecord(str(d.id), d.creator_id, d.currency, d.amount_minor, d.remaining_minor, d.reversed_minor, d.status)
        for d in debts
    )
    reservations = await session.scalars(
        sa.select(models.PayoutReservation).where(models.PayoutReservation.creator_id == creator))
    result.check_reservations(
        ReservationRecord(r.payout_id, r.creator_id, r.currency, r.gross_minor, r.debt_deducted_minor, r.net_minor,
                          r.status)
        for r in reservations
    )
    result.check_accounts_and_payments()
    return result


async def posted_on_payment(session, creator: str, payment_id: str) -> tuple[int, int]:
    """What the payment's own entries (its payment, refunds and disputes; not the
    payouts, which are the creator's, not a payment's) give the creator: owed
    outright (available less debt) and frozen (disputed)."""
    references = sa.select(models.PaymentTakeback.reference).where(models.PaymentTakeback.payment_id == payment_id)
    rows = await session.execute(
        sa.select(models.PostingRow.account, sa.func.sum(models.PostingRow.amount_minor))
        .join(models.JournalEntry, models.JournalEntry.id == models.PostingRow.entry_id)
        .where(sa.or_(
            sa.and_(models.JournalEntry.kind == "payment", models.JournalEntry.reference == f"payment:{payment_id}"),
            sa.and_(models.JournalEntry.kind.in_(["refund", "refund_reversal", "dispute_opened", "dispute_closed"]),
                    models.JournalEntry.reference.in_(references)),
        ))
        .group_by(models.PostingRow.account)
    )
    sums = {account: int(total) for account, total in rows}
    owed = -sums.get(f"creator:{creator}:available", 0) - sums.get(f"creator:{creator}:debt", 0)
    return owed, -sums.get(f"creator:{creator}:disputed", 0)


async def entitled_on_payment(session, payment_id: str) -> tuple[int, int]:
    """What the entitlement function gives at the payment's totals as the ledger holds them."""
    terms = (await models.payment_terms_for_update(session, [payment_id]))[payment_id]
    takebacks = (await models.takebacks_of(session, [payment_id], [])).values()
    totals = entitlement.payment_totals(terms.price_minor, terms.creator_share_minor,
                                        [entitlement.Takeback(t.kind, t.status, t.amount_minor) for t in takebacks])
    return entitlement.creator_entitlement(totals), entitlement.frozen_share(totals)


async def run_through_the_ledger(database: Database, creator: str, delivered: list[Event], model: Model) -> None:
    applier = EventApplier(handlers.handlers, Settings())
    session = database.sessions()
    await session.begin()
    try:
        for event in delivered:
            await applier.apply_or_park(session, Delivery(event.TOPIC, event, encode(event)))
        balance = await models.creator_balance(session, creator, CURRENCY)
        assert (balance.available_minor, balance.disputed_minor, balance.reserved_minor, balance.debt_minor) == (
            model.available, model.disputed, model.reserved, model.debt
        ), delivered
        still_parked = await session.scalar(
            sa.select(sa.func.count()).where(parked_events.c.event_id.in_([e.event_id for e in delivered])))
        assert still_parked == 0 and model.parked == []
        checked = await audit(session, creator)
        assert checked.problems == []
        for payment_id in model.payments:
            assert await posted_on_payment(session, creator, payment_id) == await entitled_on_payment(
                session, payment_id)
    finally:
        await session.rollback()
        await session.close()


@pytest.mark.timeout(900)  # a bound for a stuck database, far above the run's time
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_interleaving_of_a_creators_money_gives_the_models_balances_to_the_unit(ledger_db, data) -> None:
    runner, database = ledger_db
    creator = f"creator_model_{uuid.uuid4().hex[:12]}"
    events = data.draw(lives(creator), label="events in the order they were emitted")
    delivered = data.draw(deliveries(events), label="events in the order the ledger read them")

    model = Model(threshold=Settings().debt_block_threshold_minor)
    for event in delivered:
        model.deliver(event)
    # whatever the order, the creator ends with what the final facts entitle them to
    assert model.available + model.disputed + model.reserved - model.debt + model.paid_out == sum(
        p.entitled(with_open=False) for p in model.payments.values())

    runner.run(run_through_the_ledger(database, creator, delivered, model))
