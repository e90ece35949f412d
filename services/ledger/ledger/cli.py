"""Operator commands: `python -m ledger check` verifies the invariants of the
ledger's database (see ledger.domain.invariants), `python -m ledger verify-journal`
recomputes the journal's hash chain (see ledger.domain.chain), `python -m ledger
reconcile --since D --until D` compares `stripe:balance` with Stripe's balance
transactions of that period (see ledger.domain.reconcile); each exits non-zero on any
problem or difference."""

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from common import hash_chain
from common.service import Command
from common.stripe_api import StripeApi
from ledger import domain, models
from ledger.domain import chain, reconcile as reconciling
from ledger.domain.invariants import Audit, DebtRecord, EntryRecord, ReservationRecord
from ledger.models import AccountBalance, Debt, JournalEntry, PayoutReservation, PostingRow
from ledger.settings import Settings

MAX_PRINTED = 200


@asynccontextmanager
async def snapshot(database_url: str) -> AsyncIterator[AsyncConnection]:
    """One read-only snapshot, so entries committed meanwhile cannot make a false mismatch."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="REPEATABLE READ")
            async with connection.begin():
                await connection.execute(sa.text("SET TRANSACTION READ ONLY"))
                yield connection
    finally:
        await engine.dispose()


async def chained_entries(connection: AsyncConnection) -> AsyncIterator[tuple[int, str, str, chain.ChainedEntry]]:
    """The journal in chain order as (seq, prev_hash, hash, entry with its postings)."""
    entries = JournalEntry.__table__.c
    rows = await connection.stream(
        sa.select(
            entries.seq, entries.prev_hash, entries.hash, entries.id, entries.cause_event_id, entries.kind,
            entries.creator_id, entries.reference, entries.payment_id, entries.dispute_id,
            entries.fact_amount_minor, entries.stripe_balance_transaction_id, entries.created_at,
            PostingRow.account, PostingRow.currency, PostingRow.amount_minor,
        )
        .outerjoin(PostingRow, PostingRow.entry_id == entries.id)
        .order_by(entries.seq, PostingRow.id)
        .execution_options(yield_per=5000)
    )
    head = None
    postings: list[domain.Posting] = []
    async for row in rows:
        if head is None or head.seq != row.seq:
            if head is not None:
                yield _chained(head, postings)
            head, postings = row, []
        if row.account is not None:  # an entry without postings still counts (and fails)
            postings.append(domain.Posting(row.account, int(row.amount_minor), row.currency))
    if head is not None:
        yield _chained(head, postings)


def _chained(row: sa.Row, postings: list[domain.Posting]) -> tuple[int, str, str, chain.ChainedEntry]:
    entry = chain.ChainedEntry(
        id=str(row.id), cause_event_id=str(row.cause_event_id), kind=row.kind, creator_id=row.creator_id,
        reference=row.reference,
        facts=chain.EntryFacts(row.payment_id, row.dispute_id, row.fact_amount_minor, row.stripe_balance_transaction_id),
        created_at=row.created_at, postings=tuple(postings),
    )
    return row.seq, row.prev_hash, row.hash, entry


async def audit(database_url: str) -> Audit:
    """Replay the journal in chain order (checking each link, as verify-journal
    does) and compare the projections, all in one snapshot."""
    result = Audit()
    checker, broken = hash_chain.ChainChecker(), None
    async with snapshot(database_url) as connection:
        async for seq, prev_hash, stored_hash, entry in chained_entries(connection):
            broken = broken or checker.check(seq, prev_hash, stored_hash, entry)
            result.add_entry(EntryRecord(
                entry.id, entry.cause_event_id, entry.kind, entry.postings,
                creator_id=entry.creator_id, reference=entry.reference, facts=entry.facts,
            ))
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
        balances = await connection.execute(
            sa.select(AccountBalance.account, AccountBalance.currency, AccountBalance.balance_minor)
        )
        result.check_balances(balances)
        result.check_accounts_and_payments()
    if broken is not None:
        result.problems.append(
            f"journal chain broken at seq {broken.seq} (entry {broken.record_id}): {broken.problem}"
        )
    return result


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


async def first_broken_link(database_url: str) -> tuple[int, hash_chain.BrokenLink | None]:
    """(entries checked, first broken link or None), read in one snapshot."""
    checked = 0
    checker = hash_chain.ChainChecker()
    async with snapshot(database_url) as connection:
        async for seq, prev_hash, stored_hash, entry in chained_entries(connection):
            checked += 1
            if (broken := checker.check(seq, prev_hash, stored_hash, entry)) is not None:
                return checked, broken
    return checked, None


def verify_journal(settings: Settings) -> int:
    checked, broken = asyncio.run(first_broken_link(settings.database_url))
    if broken is None:
        print(f"ledger journal OK: {checked} entries, hash chain intact")
        return 0
    print(f"ledger journal BROKEN at seq {broken.seq} (entry {broken.record_id}): {broken.problem}")
    return 1


def _moment(text: str) -> datetime:
    """A date or an ISO datetime, UTC unless it says otherwise."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _reconcile_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=_moment, required=True, help="start of the period (included), e.g. 2026-12-01")
    parser.add_argument("--until", type=_moment, required=True, help="end of the period (excluded), e.g. 2026-12-02")


async def stripe_transactions(settings: Settings, since: int, until: int) -> list[reconciling.StripeTransaction]:
    """Stripe's balance transactions created in [since, until), Unix seconds, every page."""
    api = StripeApi(settings.stripe_api_key, settings.stripe_api_base)
    try:
        created = {"gte": since, "lt": until}
        page = await api.call(api.v1.balance_transactions.list_async({"created": created, "limit": 100}))
        return [
            reconciling.StripeTransaction(txn.id, txn.type, txn.net, txn.currency.upper())
            async for txn in page.auto_paging_iter()
            if since <= txn.created < until  # the filter is Stripe's; kept here too, it costs nothing
        ]
    finally:
        await api.close()


async def reconciliation(settings: Settings, since: datetime, until: datetime) -> reconciling.Reconciliation:
    transactions = await stripe_transactions(settings, int(since.timestamp()), int(until.timestamp()))
    async with snapshot(settings.database_url) as connection:
        booked = await models.booked_on_stripe_balance(connection, [txn.id for txn in transactions])
    return reconciling.reconcile(transactions, booked)


def run_reconcile(settings: Settings, arguments: argparse.Namespace) -> int:
    """Print every difference and exit 1, or the totals compared and exit 0."""
    period = f"{arguments.since.isoformat()} .. {arguments.until.isoformat()}"
    result = asyncio.run(reconciliation(settings, arguments.since, arguments.until))
    for difference in result.differences:
        print(f"ledger reconcile: {difference}")
    for currency in sorted(set(result.stripe_totals) | set(result.ledger_totals)):
        print(
            f"ledger reconcile: {currency}: Stripe {result.stripe_totals.get(currency, 0)}, "
            f"the ledger {result.ledger_totals.get(currency, 0)}"
        )
    if result.not_compared:
        counted = ", ".join(f"{count} {kind}" for kind, count in sorted(result.not_compared.items()))
        print(f"ledger reconcile: not booked by balance transaction, not compared: {counted}")
    verdict = f"{len(result.differences)} differences" if result.differences else "no differences"
    print(f"ledger reconcile {period}: {result.compared} balance transactions compared, {verdict}")
    return 1 if result.differences else 0


reconcile = Command(run=run_reconcile, add_arguments=_reconcile_arguments)  # type: ignore[arg-type]
