"""`ledger.balance_changed` applied a batch at a time (the hottest event payouts
applies: one per payment credited), through the consumer's own batch path
(`EventApplier.apply_all`: inbox claim, handler, outbox) on the real database."""

import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from common.applying import Delivery, EventApplier
from common.db import Database
from contracts.events.ledger import BalanceChanged, BalanceChangedData
from payouts.handlers import Needs, handlers
from payouts.models import CreatorBalance
from payouts.stripe_gateway import StripeGateway
from tests.support.statements import statements_run

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def applier(payouts_settings) -> AsyncIterator[EventApplier[Needs]]:
    gateway = StripeGateway(payouts_settings.stripe_api_key, payouts_settings.stripe_api_base)
    yield EventApplier(handlers, Needs(stripe=gateway))
    await gateway.close()


@pytest.fixture
async def new_prefix(db) -> AsyncIterator[Callable[[str], str]]:
    """Fresh prefixes of creator ids; their rows are deleted afterwards: these
    balances were never announced on the topic, so `rebuild-balances` (tested
    end to end on the same stack) would rightly drop them."""
    made: list[str] = []

    def new(kind: str) -> str:
        made.append(f"{kind}{uuid.uuid4().hex[:8]}")
        return made[-1]

    yield new
    async with db.transaction() as session:
        for prefix in made:
            await session.execute(
                sa.delete(CreatorBalance).where(CreatorBalance.creator_id.startswith(f"{prefix}_", autoescape=True)))


def announced(creator_id: str, currency: str, n: int, second: int) -> BalanceChanged:
    """The ledger's n-th announcement, made at START + `second`."""
    event = BalanceChanged.new(
        BalanceChangedData(creator_id=creator_id, currency=currency, journal_entry_id=f"entry-{n}",
                           available_minor=1000 + n, disputed_minor=n % 3, reserved_minor=10 * n, debt_minor=n % 2),
        producer="ledger", creator_id=creator_id,
    )
    return event.model_copy(update={"occurred_at": START + timedelta(seconds=second)})


def history(prefix: str, count: int, seed: int) -> list[BalanceChanged]:
    """`count` announcements over 4 creators and 2 currencies, delivered out of
    time order, two of them at one timestamp (the later delivery wins those)."""
    events = [announced(f"{prefix}_{n % 4}", ("EUR", "USD")[n // 4 % 2], n, second=n) for n in range(count)]
    random.Random(seed).shuffle(events)
    if count > 1:
        twin = events[0]
        events.append(announced(twin.data.creator_id, twin.data.currency, count, second=int(
            (twin.occurred_at - START).total_seconds())))
    return events


async def apply(db: Database, applier: EventApplier[Needs], batch: list[BalanceChanged]) -> None:
    deliveries = [Delivery(BalanceChanged.TOPIC, e, e.model_dump_json().encode()) for e in batch]
    async with db.transaction() as session:
        await applier.apply_all(session, deliveries)


async def rows(db: Database, prefix: str, events: list[BalanceChanged]) -> dict[tuple[str, str], tuple]:
    """The stored rows of the creators named `prefix_*`, keyed without the prefix;
    the event a row came from named by its index in `events`."""
    index = {event.event_id: n for n, event in enumerate(events)}
    async with db.transaction() as session:
        stored = await session.scalars(
            sa.select(CreatorBalance).where(CreatorBalance.creator_id.startswith(f"{prefix}_", autoescape=True)))
        return {
            (row.creator_id.removeprefix(prefix), row.currency): (
                row.available_minor, row.disputed_minor, row.reserved_minor, row.debt_minor, row.journal_entry_id,
                row.as_of, index[row.source_event_id],
            )
            for row in stored
        }


def renamed(events: list[BalanceChanged], prefix: str) -> list[BalanceChanged]:
    """The same announcements as new events for the creators `prefix_*` (their own ids, for the inbox)."""
    return [
        e.model_copy(update={"event_id": uuid.uuid4(), "data": e.data.model_copy(
            update={"creator_id": prefix + e.data.creator_id[e.data.creator_id.index("_"):]})})
        for e in events
    ]


@pytest.mark.parametrize("size", [3, 30])
async def test_a_batch_stores_the_rows_that_one_event_at_a_time_stores(db, applier, new_prefix, size: int) -> None:
    one, many = new_prefix("one"), new_prefix("many")
    singly = history(one, size, seed=size)
    together = renamed(singly, many)
    for event in singly:
        await apply(db, applier, [event])
    await apply(db, applier, together)

    expected = await rows(db, one, singly)
    assert len(expected) == min(size, 8)  # every creator and currency the history names
    assert await rows(db, many, together) == expected


async def test_two_balances_of_one_creator_in_one_batch_store_the_newest(db, applier, new_prefix) -> None:
    prefix = new_prefix("two")
    newer, older = announced(f"{prefix}_0", "EUR", 2, second=20), announced(f"{prefix}_0", "EUR", 1, second=10)
    await apply(db, applier, [newer, older])  # PostgreSQL refuses to update one row twice in a statement
    assert {key: row[-1] for key, row in (await rows(db, prefix, [newer, older])).items()} == {("_0", "EUR"): 0}


@pytest.mark.parametrize("seed", range(5))
async def test_any_order_any_batches_and_redeliveries_end_at_the_newest_balance(
    db, applier, new_prefix, seed: int
) -> None:
    rng = random.Random(seed)
    prefix = new_prefix("order")
    events = [announced(f"{prefix}_{n % 3}", ("EUR", "USD")[n % 2], n, second=n) for n in range(24)]
    delivered = events + rng.choices(events, k=12)  # redelivered: the same event ids again
    rng.shuffle(delivered)
    while delivered:
        size = rng.randint(1, 10)
        batch, delivered = delivered[:size], delivered[size:]
        await apply(db, applier, batch)

    newest = {(e.data.creator_id.removeprefix(prefix), e.data.currency): n for n, e in enumerate(events)}
    stored = await rows(db, prefix, events)
    assert {key: row[-1] for key, row in stored.items()} == newest
    assert all(row[0] == 1000 + row[-1] and row[5] == events[row[-1]].occurred_at for row in stored.values())




async def test_a_batch_takes_as_many_statements_whatever_its_size(db, applier, new_prefix) -> None:
    await apply(db, applier, history(new_prefix("warm"), 1, seed=0))  # a connection made, not counted
    counts = {}
    for size in (1, 3, 30):
        batch = history(new_prefix("count"), size, seed=size)[:size]
        with statements_run(db) as run:
            await apply(db, applier, batch)
        counts[size] = len([s for s in run if not s.lstrip().upper().startswith(("BEGIN", "COMMIT"))])
    print("statements per batch of balance_changed:", ", ".join(f"{n} events: {c}" for n, c in counts.items()))
    assert counts[1] == counts[3] == counts[30]
