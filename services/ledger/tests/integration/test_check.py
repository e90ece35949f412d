"""`python -m ledger check` fails on each way a ledger can be wrong, and
`python -m ledger verify-journal` finds an entry edited or removed by someone
who could switch the journal's guard off (the table's owner).

Each case starts from a sound ledger built by the real handlers on a database
of its own, checks that it passes, breaks one thing the way a defect (or a
person) would, and sees the check name it."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import pytest

from common.db import Database
from contracts.events.disputes import (
    DisputeClosed,
    DisputeClosedData,
    DisputeCreated,
    DisputeData,
    DisputeFundsData,
    DisputeFundsWithdrawn,
)
from contracts.events.payments import PaymentFeeRecorded, PaymentFeeRecordedData, PaymentSucceeded, PaymentSucceededData
from contracts.events.payouts import PayoutRequested, PayoutRequestedData
from contracts.events.refunds import RefundCreated, RefundCreatedData
from ledger import models
from ledger.domain.chain import EntryFacts
from ledger.domain import Posting
from services.ledger.tests.integration import applied
from services.ledger.tests.integration.ledger_cli import append_unchecked_entry, asyncpg_url, run_ledger

CREATOR = "c_sound"
PAYMENT = "pay_sound"
DISPUTE = "dsp_sound"
WITHDRAWAL = "txn_dispute_withdrawal"
PAYOUT = "po_sound"


@dataclass(frozen=True)
class Sound:
    url: str
    db: Database


def _dispute(dispute_id: str, amount: int, share: int, status: str) -> dict:
    return dict(
        dispute_id=dispute_id, stripe_dispute_id=f"dp_{dispute_id}", payment_id=PAYMENT, creator_id=CREATOR,
        amount_minor=amount, currency="EUR", creator_share_minor=share, status=status,
    )


def _new(model, data):
    return model.new(data, producer="payments", creator_id=CREATOR)


async def apply(db: Database, event) -> None:
    """Through the handler the consumer would run, in a transaction of its own."""
    async with db.transaction() as session:
        await applied.apply(session, event)


async def sound_ledger(db: Database) -> None:
    """100.00 EUR paid (share 85.00, fee 1.75), 10.01 refunded (8.50 back), a
    20.00 dispute lost (17.00 more back, Stripe's fee 15.00), 10.00 reserved for a payout."""
    events = [
        _new(PaymentSucceeded, PaymentSucceededData(
            payment_id=PAYMENT, fan_id="fan_1", creator_id=CREATOR, price_minor=10000, creator_share_minor=8500,
            platform_fee_minor=1500, currency="EUR", stripe_payment_intent_id="pi_sound", succeeded_at=datetime.now(UTC),
        )),
        _new(PaymentFeeRecorded, PaymentFeeRecordedData(
            payment_id=PAYMENT, creator_id=CREATOR, fee_minor=175, currency="EUR",
            stripe_balance_transaction_id="txn_charge",
        )),
        _new(RefundCreated, RefundCreatedData(
            refund_id="ref_sound", payment_id=PAYMENT, creator_id=CREATOR, stripe_refund_id="re_sound",
            amount_minor=1001, currency="EUR", creator_clawback_minor=850, refunded_total_minor=1001,
        )),
        _new(DisputeCreated, DisputeData(**_dispute(DISPUTE, 2000, 1700, "needs_response"))),
        _new(DisputeFundsWithdrawn, DisputeFundsData(
            dispute_id=DISPUTE, payment_id=PAYMENT, creator_id=CREATOR, amount_minor=2000, fee_minor=1500,
            currency="EUR", stripe_balance_transaction_ids=[WITHDRAWAL],
        )),
        _new(DisputeClosed, DisputeClosedData(**_dispute(DISPUTE, 2000, 1700, "lost"), outcome="lost")),
        PayoutRequested.new(
            PayoutRequestedData(payout_id=PAYOUT, creator_id=CREATOR, currency="EUR", amount_minor=1000,
                                minimum_minor=0, requested_by=CREATOR),
            producer="payouts", creator_id=CREATOR,
        ),
    ]
    for event in events:
        await apply(db, event)


async def check(url: str) -> tuple[int, str]:
    done = await asyncio.to_thread(run_ledger, url, "check")
    return done.returncode, done.stdout + done.stderr


async def as_owner(url: str, *statements: str) -> None:
    """What only the journal's owner can do: switch its guard off for one transaction."""
    connection = await asyncpg.connect(asyncpg_url(url))
    try:
        async with connection.transaction():
            for table in ("journal_entries", "postings"):
                await connection.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
            for statement in statements:
                await connection.execute(statement)
            for table in ("journal_entries", "postings"):
                await connection.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
    finally:
        await connection.close()


async def post(db: Database, kind: str, postings: list[Posting], facts: EntryFacts) -> None:
    """An entry as a faulty handler would post it: balanced and chained, wrong in what it says."""
    async with db.transaction() as session:
        await models.post_entries(session, [models.NewEntry(
            cause_event_id=uuid.uuid4(), kind=kind, creator_id=CREATOR, reference=None, postings=postings,
            facts=facts,
        )])


def eur(account: str, amount: int) -> Posting:
    return Posting(account, amount, "EUR")


async def clawback_above_the_share(sound: Sound) -> str:
    # Issue 11's first case: refunds whose clawbacks add up to 85.01 of an 85.00 share.
    await post(sound.db, "refund", [
        eur("stripe:balance", -6999), eur(f"creator:{CREATOR}:available", 5951), eur("platform:revenue", 1048),
    ], EntryFacts(payment_id=PAYMENT, fact_amount_minor=6999))
    return f"payment {PAYMENT}: clawbacks of 8501 EUR exceed the share 8500"


async def clawback_off_the_entitlement(sound: Sound) -> str:
    # Issue 11's second case: one unit too many taken, against the creator, under the share.
    await post(sound.db, "refund", [
        eur("stripe:balance", -1000), eur(f"creator:{CREATOR}:available", 851), eur("platform:revenue", 149),
    ], EntryFacts(payment_id=PAYMENT, fact_amount_minor=1000))
    return (
        f"payment {PAYMENT}: the creator holds 5099 EUR of it, its entitlement is 5100 "
        "(price 10000, refunded 2001, disputed 2000)"
    )


async def dispute_transaction_posted_twice(sound: Sound) -> str:
    await post(sound.db, "dispute_funds_withdrawn", [
        eur("stripe:balance", -3500), eur("platform:dispute_fees", 1500), eur("stripe:disputed_funds", 2000),
    ], EntryFacts(payment_id=PAYMENT, dispute_id=DISPUTE, stripe_balance_transaction_id=WITHDRAWAL))
    return f"balance transaction {WITHDRAWAL} posted by 2 entries"


async def dispute_transaction_missing(sound: Sound) -> str:
    # A second dispute lost whose withdrawal never reached the journal (issue 11, section 2).
    for event in (
        _new(DisputeCreated, DisputeData(**_dispute("dsp_second", 1000, 850, "needs_response"))),
        _new(DisputeClosed, DisputeClosedData(**_dispute("dsp_second", 1000, 850, "lost"), outcome="lost")),
    ):
        await apply(sound.db, event)
    return "dispute dsp_second: closed with -1000 EUR of disputed funds still booked"


async def unbalanced_entry(sound: Sound) -> str:
    connection = await asyncpg.connect(asyncpg_url(sound.url))
    try:
        entry = await append_unchecked_entry(connection, kind="manual", creator_id=None, postings=[
            eur("stripe:balance", 100), eur("platform:revenue", -99),
        ])
    finally:
        await connection.close()
    return f"entry {entry} (manual): entry does not balance: {{'EUR': 1}}"


async def wrong_reservation_state(sound: Sound) -> str:
    connection = await asyncpg.connect(asyncpg_url(sound.url))
    try:
        await connection.execute("UPDATE payout_reservations SET status = 'PAID' WHERE payout_id = $1", PAYOUT)
    finally:
        await connection.close()
    return f"payout reservation {PAYOUT}: PAID but its entries are ['payout_reserved']"


async def balance_row_off_its_postings(sound: Sound) -> str:
    # The balance the creator is shown, one unit under what the journal holds.
    account = f"creator:{CREATOR}:available"
    connection = await asyncpg.connect(asyncpg_url(sound.url))
    try:
        before = await connection.fetchval(
            "UPDATE account_balances SET balance_minor = balance_minor - 1 WHERE account = $1 AND currency = 'EUR' "
            "RETURNING balance_minor + 1", account)
    finally:
        await connection.close()
    return f"{account} EUR: balance row says {before - 1}, its postings add up to {before}"


async def edited_journal_row(sound: Sound) -> str:
    # A balanced edit: Stripe's fee made smaller on both sides. Nothing but the chain shows it.
    await as_owner(
        sound.url,
        "UPDATE postings SET amount_minor = sign(amount_minor) * 75 WHERE entry_id = "
        "(SELECT id FROM journal_entries WHERE kind = 'processing_fee')",
    )
    return "hash does not match the record's content"


@pytest.mark.parametrize("break_it", [
    clawback_above_the_share, clawback_off_the_entitlement, dispute_transaction_posted_twice,
    dispute_transaction_missing, unbalanced_entry, wrong_reservation_state, balance_row_off_its_postings,
    edited_journal_row,
], ids=lambda f: f.__name__)
async def test_check_fails_on_each_broken_ledger(
    scratch_ledger, break_it: Callable[[Sound], Awaitable[str]]
) -> None:
    url, db = scratch_ledger
    await sound_ledger(db)
    code, output = await check(url)
    assert code == 0, output
    assert "1 payments hold their entitlement, 1 disputes' balance transactions posted once" in output

    expected = await break_it(Sound(url, db))

    code, output = await check(url)
    assert code == 1, output
    assert expected in output


async def test_verify_journal_finds_an_entry_edited_or_removed_by_the_owner(scratch_ledger) -> None:
    url, db = scratch_ledger
    await sound_ledger(db)
    verified = await asyncio.to_thread(run_ledger, url, "verify-journal")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("ledger journal OK: 7 entries, hash chain intact")

    connection = await asyncpg.connect(asyncpg_url(url))
    try:
        seq, entry_id, kind = await connection.fetchrow(
            "SELECT seq, id, kind FROM journal_entries WHERE kind = 'refund'"
        )
    finally:
        await connection.close()
    await as_owner(url, f"UPDATE journal_entries SET kind = 'refund_reversal' WHERE id = '{entry_id}'")
    edited = await asyncio.to_thread(run_ledger, url, "verify-journal")
    assert edited.returncode == 1
    assert edited.stdout.strip() == (
        f"ledger journal BROKEN at seq {seq} (entry {entry_id}): hash does not match the record's content"
    )

    await as_owner(
        url,
        f"UPDATE journal_entries SET kind = '{kind}' WHERE id = '{entry_id}'",  # put back: the chain holds again
    )
    assert (await asyncio.to_thread(run_ledger, url, "verify-journal")).returncode == 0

    await as_owner(url, f"DELETE FROM postings WHERE entry_id = '{entry_id}'",
                   f"DELETE FROM journal_entries WHERE id = '{entry_id}'")
    removed = await asyncio.to_thread(run_ledger, url, "verify-journal")
    assert removed.returncode == 1
    assert "prev_hash does not match the previous record's hash" in removed.stdout
