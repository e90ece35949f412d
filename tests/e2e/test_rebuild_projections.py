"""Rebuilding payouts' projection of the creators' balances from
`ledger.balance_changed` gives the rows the live projection holds."""

import os
import subprocess
import sys

import asyncpg

from .conftest import new_id, payment_intent_succeeded
from tests.support.polling import eventually

COLUMNS = ("creator_id, currency, available_minor, disputed_minor, reserved_minor, debt_minor, "
           "journal_entry_id, as_of, source_event_id")


async def balances(connection: asyncpg.Connection) -> list[tuple]:
    return [tuple(row) for row in await connection.fetch(
        f"SELECT {COLUMNS} FROM creator_balances ORDER BY creator_id, currency")]


def rebuild(stack) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "payouts", "rebuild-balances"], env={**os.environ, **stack.env},
                          capture_output=True, text=True, timeout=300)


async def test_rebuilt_balances_are_the_live_projection(stack, gateway) -> None:
    creators = [new_id("creator-rebuild") for _ in range(3)]
    for n, creator in enumerate(creators):
        for price in (1000 * (n + 1), 2500):  # two balance announcements each: the later one counts
            intent = await gateway.create_intent(new_id("fan"), creator, price)
            assert (await gateway.send_webhook(payment_intent_succeeded(intent))).status_code == 200
    connection = await asyncpg.connect(stack.asyncpg_dsn("payouts"))
    try:
        async def settled() -> list[tuple] | None:
            rows = [r for r in await balances(connection) if r[0] in creators]
            expected = {c: 850 * (n + 1) + 2125 for n, c in enumerate(creators)}
            return rows if {r[0]: r[2] for r in rows} == expected else None

        await eventually(settled, timeout=60)
        live = await balances(connection)
        # Lost or damaged: one of ours gone, another's figures wrong.
        await connection.execute("DELETE FROM creator_balances WHERE creator_id = $1", creators[0])
        await connection.execute("UPDATE creator_balances SET available_minor = 1 WHERE creator_id = $1", creators[1])

        done = rebuild(stack)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "rows" in done.stdout
        assert await balances(connection) == live
    finally:
        await connection.close()
