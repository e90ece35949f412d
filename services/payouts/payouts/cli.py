"""Operator commands: `python -m payouts verify-audit` recomputes the audit
log's hash chain and reports the first broken link (exit 1), if any;
`python -m payouts rebuild-balances` rebuilds the creators' balances (a
projection of `ledger.balance_changed`) from that topic."""

import asyncio

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from common import hash_chain
from common.db import Database
from common.topic_reading import read_to_end
from contracts.events.ledger import BalanceChanged
from payouts import models
from payouts.domain import audit
from payouts.domain.balances import latest_balances
from payouts.models import PayoutAudit
from payouts.settings import Settings


async def first_broken_link(database_url: str) -> tuple[int, hash_chain.BrokenLink | None]:
    """(rows checked, first broken link or None), read in one snapshot."""
    engine = create_async_engine(database_url)
    checked = 0
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="REPEATABLE READ")
            async with connection.begin():
                await connection.execute(sa.text("SET TRANSACTION READ ONLY"))
                result = await connection.stream(
                    sa.select(PayoutAudit.__table__).order_by(PayoutAudit.seq).execution_options(yield_per=5000)
                )

                checker = hash_chain.ChainChecker()
                async for row in result:
                    checked += 1
                    record = audit.AuditRecord(
                        id=str(row.id), payout_id=str(row.payout_id), actor_id=row.actor_id,
                        actor_role=row.actor_role, old_state=row.old_state, new_state=row.new_state,
                        reason=row.reason, metadata=row._mapping["metadata"], created_at=row.created_at,
                    )
                    if (broken := checker.check(row.seq, row.prev_hash, row.hash, record)) is not None:
                        return checked, broken
    finally:
        await engine.dispose()
    return checked, None


def verify_audit(settings: Settings) -> int:
    checked, broken = asyncio.run(first_broken_link(settings.database_url))
    if broken is None:
        print(f"payout audit OK: {checked} rows, hash chain intact")
        return 0
    print(f"payout audit BROKEN at seq {broken.seq} (audit row {broken.record_id}): {broken.problem}")
    return 1


async def rebuild_balances_from(settings: Settings) -> int:
    """The table is locked first, then the topic read to its end: everything the live
    consumer applied before the lock is in what is read; what comes after waits."""
    db = Database(settings.database_url, pool_size=1)
    try:
        async with db.transaction() as session:
            await models.lock_balances(session)
            records = await read_to_end(settings.kafka_access(), [BalanceChanged.TOPIC],
                                        client_id="payouts-rebuild-balances")
            latest = latest_balances([BalanceChanged.model_validate_json(r.value) for r in records])
            await models.replace_balances(session, latest)
        return len(latest)
    finally:
        await db.dispose()


def rebuild_balances(settings: Settings) -> int:
    rows = asyncio.run(rebuild_balances_from(settings))
    print(f"creator balances rebuilt from {BalanceChanged.TOPIC}: {rows} rows")
    return 0
