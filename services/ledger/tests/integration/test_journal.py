"""The journal is append-only for the service's own role, and `python -m ledger
check` tells a sound ledger from a broken one."""

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from contracts.events.payments import PaymentSucceeded, PaymentSucceededData
from contracts.events.payouts import PayoutRequested, PayoutRequestedData
from contracts.events.refunds import RefundCreated, RefundCreatedData
from ledger import domain, models
from services.ledger.tests.integration import applied
from services.ledger.tests.integration.ledger_cli import append_unchecked_entry, asyncpg_url, run_ledger


async def test_the_ledger_role_can_neither_update_nor_delete_nor_truncate_the_journal(infra, db) -> None:
    async with db.transaction() as session:
        cause = uuid.uuid4()
        posted = await models.post_entries(session, [models.NewEntry(
            cause_event_id=cause, kind="payment", creator_id="c_append_only", reference=None,
            postings=domain.payment_postings("c_append_only", 100, 85, "EUR"),
        )])
        entry_id = posted[cause]
    connection = await asyncpg.connect(infra.asyncpg_dsn("ledger"))  # as the role `ledger`
    try:
        assert await connection.fetchval("SELECT current_user") == "ledger"
        for statement in (
            "UPDATE journal_entries SET kind = 'edited' WHERE id = $1",
            "DELETE FROM journal_entries WHERE id = $1",
            "UPDATE postings SET amount_minor = 0 WHERE entry_id = $1",
            "DELETE FROM postings WHERE entry_id = $1",
        ):
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await connection.execute(statement, entry_id)
        for table in ("journal_entries", "postings"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):  # the runtime role has no TRUNCATE
                await connection.execute(f"TRUNCATE {table} CASCADE")
        owner = await asyncpg.connect(infra.asyncpg_dsn("ledger", owner=True))
        try:
            for table in ("journal_entries", "postings"):
                with pytest.raises(asyncpg.RaiseError, match="append-only"):  # nor the owner, while the trigger holds
                    await owner.execute(f"TRUNCATE {table} CASCADE")
        finally:
            await owner.close()
        assert await connection.fetchval("SELECT count(*) FROM postings WHERE entry_id = $1", entry_id) == 3
    finally:
        await connection.close()


async def test_check_passes_on_a_sound_ledger_and_fails_on_a_broken_entry(scratch_ledger) -> None:
    url, database = scratch_ledger
    creator = "c_check"
    paid = PaymentSucceeded.new(
        PaymentSucceededData(
            payment_id="pay_check", fan_id="fan_1", creator_id=creator, price_minor=10000, creator_share_minor=8500,
            platform_fee_minor=1500, currency="EUR", stripe_payment_intent_id="pi_check",
            succeeded_at=datetime.now(UTC),
        ),
        producer="payments", creator_id=creator,
    )
    refunded = RefundCreated.new(
        RefundCreatedData(
            refund_id="ref_check", payment_id="pay_check", creator_id=creator, stripe_refund_id="re_check",
            amount_minor=10000, currency="EUR", creator_clawback_minor=8500, refunded_total_minor=10000,
        ),
        producer="payments", creator_id=creator,
    )
    reserved = PayoutRequested.new(
        PayoutRequestedData(payout_id="po_check", creator_id=creator, currency="EUR", amount_minor=6000,
                            minimum_minor=1000, requested_by=creator),
        producer="payouts", creator_id=creator,
    )
    async with database.transaction() as session:
        await applied.apply(session, paid)
        await applied.apply(session, reserved)  # 60.00 reserved: the refund below runs short
        await applied.apply(session, refunded)  # 2500 from available, 6000 debt

    sound = await asyncio.to_thread(run_ledger, url, "check")
    assert sound.returncode == 0, sound.stdout + sound.stderr
    assert sound.stdout.startswith("ledger check OK: 3 entries, 9 postings balanced")
    assert "1 debts match the debt accounts, 1 payout reservations match the reserved accounts" in sound.stdout
    assert "1 payments hold their entitlement" in sound.stdout

    # Inserts are allowed (only UPDATE/DELETE are refused): write what the code never would.
    connection = await asyncpg.connect(asyncpg_url(url))
    try:
        broken = await append_unchecked_entry(connection, kind="manual", creator_id=creator, postings=[
            domain.Posting("stripe:balance", -100, "EUR"), domain.Posting(f"creator:{creator}:available", 200, "EUR"),
            domain.Posting(f"creator:{creator}:debt", 50, "EUR"),
        ])
        await connection.execute(  # a reservation the journal never saw
            "INSERT INTO payout_reservations (payout_id, creator_id, currency, gross_minor, debt_deducted_minor,"
            " net_minor, status) VALUES ('po_ghost', $1, 'EUR', 100, 0, 100, 'RESERVED')",
            creator,
        )
    finally:
        await connection.close()

    failed = await asyncio.to_thread(run_ledger, url, "check")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"entry {broken} (manual): entry does not balance: {{'EUR': 150}}" in failed.stdout
    assert f"entry {broken} (manual): leaves creator:{creator}:available at -200 EUR" in failed.stdout
    assert f"creator:{creator}:debt is 6050 EUR in the journal but its open debts add up to 6000" in failed.stdout
    assert (
        f"creator:{creator}:reserved is 6000 EUR in the journal but its reserved payouts add up to 6100"
        in failed.stdout
    )
    assert "payout reservation po_ghost: RESERVED but its entries are none" in failed.stdout
    assert "ledger check FAILED: 5 problems in 4 entries, 1 debts, 2 payout reservations" in failed.stdout
