"""Which of the ledger's balance announcements the creator's projection keeps."""

from contracts.events.ledger import BalanceChanged


def latest_balances(events: list[BalanceChanged]) -> list[BalanceChanged]:
    """Per creator and currency the announcement the live projection keeps: the latest
    `occurred_at`, the later one read at a tie (one creator's events share a partition)."""
    latest: dict[tuple[str, str], BalanceChanged] = {}
    for event in events:
        key = (event.data.creator_id, event.data.currency)
        if key not in latest or latest[key].occurred_at <= event.occurred_at:
            latest[key] = event
    return list(latest.values())
