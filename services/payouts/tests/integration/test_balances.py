"""The creator_balances projection, fed by the ledger's events over real Kafka."""

import asyncio
import time
import uuid
from datetime import timedelta

from contracts.events.ledger import BalanceChanged, BalanceChangedData
from tests.support.internal_calls import as_caller


def headers(user_id: str, role: str) -> dict[str, str]:
    return as_caller("payouts", user_id, role)


def balance_changed(creator_id: str, currency: str, available: int, debt: int = 0) -> BalanceChanged:
    return BalanceChanged.new(
        BalanceChangedData(
            creator_id=creator_id,
            currency=currency,
            journal_entry_id=str(uuid.uuid4()),
            available_minor=available,
            debt_minor=debt,
        ),
        producer="ledger",
        creator_id=creator_id,
    )


async def balances(client, creator_id: str) -> dict[str, dict]:
    response = await client.get(f"/balances/{creator_id}", headers=headers(creator_id, "creator"))
    assert response.status_code == 200, response.text
    return {b["currency"]: b for b in response.json()["balances"]}


async def wait_for_currency(client, creator_id: str, currency: str, timeout: float = 30.0) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while currency not in (current := await balances(client, creator_id)):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {currency} balance for {creator_id} within {timeout}s")
        await asyncio.sleep(0.1)
    return current


async def test_balance_changed_updates_the_projection_and_a_stale_one_does_not(client, publish_events) -> None:
    creator = f"creator_{uuid.uuid4().hex[:8]}"
    first = balance_changed(creator, "EUR", available=8500)
    await publish_events(first)
    assert (await wait_for_currency(client, creator, "EUR"))["EUR"]["available_minor"] == 8500

    newer = balance_changed(creator, "EUR", available=17000)
    stale = balance_changed(creator, "EUR", available=1, debt=999).model_copy(
        update={"occurred_at": first.occurred_at - timedelta(minutes=5)}
    )
    # Same key, same partition: once the USD one shows, the EUR ones were applied.
    sentinel = balance_changed(creator, "USD", available=42)
    await publish_events(newer, stale, sentinel)

    current = await wait_for_currency(client, creator, "USD")
    assert current["EUR"]["available_minor"] == 17000
    assert current["EUR"]["debt_minor"] == 0
    assert current["EUR"]["as_of"] == newer.occurred_at.isoformat()
    assert current["USD"]["available_minor"] == 42


async def test_a_creator_sees_only_their_own_balances(client) -> None:
    response = await client.get("/balances/someone_else", headers=headers("creator_x", "creator"))
    assert response.status_code == 404
    fan = await client.get("/balances/creator_x", headers=headers("creator_x", "fan"))
    assert fan.status_code == 403
    admin = await client.get("/balances/someone_else", headers=headers("admin_1", "admin"))
    assert admin.status_code == 200
    assert admin.json() == {"creator_id": "someone_else", "balances": []}
