"""Which balance announcement the creator's projection keeps: the newest per
creator and currency, whatever order the announcements came in."""

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from contracts.events.ledger import BalanceChanged, BalanceChangedData
from payouts.domain.balances import latest_balances

START = datetime(2026, 1, 1, tzinfo=UTC)


def announced(creator_id: str, currency: str, available: int, second: int) -> BalanceChanged:
    event = BalanceChanged.new(
        BalanceChangedData(creator_id=creator_id, currency=currency, journal_entry_id=f"entry-{available}",
                           available_minor=available),
        producer="ledger", creator_id=creator_id,
    )
    return event.model_copy(update={"occurred_at": START + timedelta(seconds=second)})


def kept(events: list[BalanceChanged]) -> dict[tuple[str, str], int]:
    return {(e.data.creator_id, e.data.currency): e.data.available_minor for e in latest_balances(events)}


# Each announcement its own second (the ledger's clock moves between entries),
# spread over a few creators and two currencies.
histories = st.lists(
    st.tuples(st.sampled_from(["c1", "c2", "c3"]), st.sampled_from(["EUR", "USD"])), min_size=1, max_size=40
).map(lambda keys: [announced(creator, currency, 1000 + n, n) for n, (creator, currency) in enumerate(keys)])


@given(history=histories, seed=st.integers(0, 2**32 - 1))
def test_any_order_with_repeats_keeps_the_newest_balance_of_each_creator_and_currency(
    history: list[BalanceChanged], seed: int
) -> None:
    rng = random.Random(seed)
    delivered = history + rng.choices(history, k=len(history) // 2)  # redeliveries
    rng.shuffle(delivered)
    newest: dict[tuple[str, str], BalanceChanged] = {}
    for event in history:
        newest[(event.data.creator_id, event.data.currency)] = event  # in time order: the last is the newest
    assert kept(delivered) == {key: event.data.available_minor for key, event in newest.items()}


@given(history=histories)
def test_one_balance_is_kept_per_creator_and_currency(history: list[BalanceChanged]) -> None:
    # One row per key, so one upsert never touches a row twice.
    keys = [(e.data.creator_id, e.data.currency) for e in latest_balances(history)]
    assert len(keys) == len(set(keys))


def test_at_an_equal_timestamp_the_later_delivery_wins() -> None:
    # One creator's announcements share a partition: delivery order is the ledger's order.
    first, second = announced("c1", "EUR", 100, 7), announced("c1", "EUR", 200, 7)
    assert kept([first, second]) == {("c1", "EUR"): 200}
    assert kept([second, first]) == {("c1", "EUR"): 100}


def test_an_older_announcement_read_later_is_not_kept() -> None:
    newer, older = announced("c1", "EUR", 200, 9), announced("c1", "EUR", 100, 3)
    assert kept([newer, older]) == {("c1", "EUR"): 200}
