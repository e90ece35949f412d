"""Operator commands: `python -m ledger check` verifies the invariants of the
ledger's database (see ledger.invariants) and exits non-zero on any problem."""

import asyncio
from collections.abc import AsyncIterator

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncResult, create_async_engine

from ledger import domain
from ledger.invariants import Audit, DebtRecord, EntryRecord, ReservationRecord
from ledger.models import Debt, JournalEntry, PayoutReservation, PostingRow
from ledger.settings import Settings

MAX_PRINTED = 200


async def audit(database_url: str) -> Audit:
    """Replay the journal in posting order and compare the debts, all in one
    snapshot, so entries committed meanwhile cannot make a false mismatch."""
    engine = create_async_engine(database_url)
    result = Audit()
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="REPEATABLE READ")
            async with connection.begin():
                await connection.execute(sa.text("SET TRANSACTION READ ONLY"))
                rows = await connection.stream(
                    sa.select(
                        JournalEntry.id, JournalEntry.cause_event_id, JournalEntry.kind,
                        PostingRow.account, PostingRow.currency, PostingRow.amount_minor,
                    )
                    .outerjoin(PostingRow, PostingRow.entry_id == JournalEntry.id)
                    # created_at is clock_timestamp() at insert, taken under the creator's lock
                    .order_by(JournalEntry.created_at, JournalEntry.id, PostingRow.id)
                    .execution_options(yield_per=5000)
                )
                async for entry in _entries(rows):
                    result.add_entry(entry)
                debts = await connection.execute(
                    sa.select(
                        Debt.id, Debt.creator_id, Debt.currency, Debt.amount_minor,
                        Debt.remaining_minor, Debt.reversed_minor, Debt.status,
                    )
                )
                result.check_debts(DebtRecord(str(row[0]), *row[1:]) for row in debts)
                reservations = await connection.execute(
                    sa.select(
                        PayoutReservation.payout_id, PayoutReservation.creator_id, PayoutReservation.currency,
                        PayoutReservation.gross_minor, PayoutReservation.debt_deducted_minor,
                        PayoutReservation.net_minor, PayoutReservation.status,
                    )
                )
                result.check_reservations(ReservationRecord(*row) for row in reservations)
    finally:
        await engine.dispose()
    return result


async def _entries(rows: AsyncResult) -> AsyncIterator[EntryRecord]:
    """Rows of (entry, posting), ordered by entry, grouped into entries."""
    head: tuple | None = None
    postings: list[domain.Posting] = []
    async for entry_id, cause_event_id, kind, account, currency, amount in rows:
        if head is None or head[0] != entry_id:
            if head is not None:
                yield EntryRecord(str(head[0]), str(head[1]), head[2], tuple(postings))
            head, postings = (entry_id, cause_event_id, kind), []
        if account is not None:  # an entry without postings still counts (and fails)
            postings.append(domain.Posting(account, int(amount), currency))
    if head is not None:
        yield EntryRecord(str(head[0]), str(head[1]), head[2], tuple(postings))


def check(settings: Settings) -> int:
    """Print every problem and exit 1, or a one-line summary and exit 0."""
    result = asyncio.run(audit(settings.database_url))
    if not result.problems:
        print(result.summary())
        return 0
    for problem in result.problems[:MAX_PRINTED]:
        print(f"ledger check: {problem}")
    if len(result.problems) > MAX_PRINTED:
        print(f"ledger check: ... and {len(result.problems) - MAX_PRINTED} more")
    print(
        f"ledger check FAILED: {len(result.problems)} problems in {result.entries} entries, {result.debts} debts, "
        f"{result.reservations} payout reservations"
    )
    return 1
