"""Which of the ledger's balance announcements the creator's projection keeps.

The newest per creator and currency: the latest `occurred_at`, and at an equal
timestamp the later delivery (one creator's events share a partition, so
delivery order is the ledger's order). Any order of the same announcements
with distinct timestamps thus ends at the same balance. The live handler keeps
the newest of each batch, the rebuild the newest of the whole topic; the
stored row is replaced by the same rule (`models.upsert_balances`).
"""

from collections.abc import Iterable

from contracts.events.ledger import BalanceChanged


def latest_balances(events: Iterable[BalanceChanged]) -> list[BalanceChanged]:
    """The newest of `events` (in delivery order) per creator and currency."""
    latest: dict[tuple[str, str], BalanceChanged] = {}
    for event in events:
        key = (event.data.creator_id, event.data.currency)
        if key not in latest or latest[key].occurred_at <= event.occurred_at:
            latest[key] = event
    return list(latest.values())
