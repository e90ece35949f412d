"""`python -m ledger reconcile` against stripe-mock: the ledger's `stripe:balance`
per balance transaction, compared with what Stripe lists for the period.

stripe-mock is stateless: it lists one fixed balance transaction (a charge in
USD, created 2009-02-13) whatever the filters. So the ledger books that one as
our handlers would (a 100.00 EUR payment settled on the USD balance), reconcile
finds no difference, then one entry too many names it and reconcile reports it."""

import asyncio
import uuid
from datetime import UTC, datetime

import httpx

from contracts.events.disputes import DisputeFundsData, DisputeFundsWithdrawn
from contracts.events.payments import PaymentFeeRecorded, PaymentFeeRecordedData, PaymentSucceeded, PaymentSucceededData
from ledger.settings import Settings
from services.ledger.tests.integration import applied
from services.ledger.tests.integration.ledger_cli import run_ledger


async def stripes_transaction(infra) -> dict:
    settings = Settings()
    async with httpx.AsyncClient(base_url=infra.stripe_api_base) as client:
        listed = await client.get("/v1/balance_transactions",
                                  headers={"Authorization": f"Bearer {settings.stripe_api_key}"})
    listed.raise_for_status()
    [txn] = listed.json()["data"]
    return txn


def period_around(created: int) -> list[str]:
    day = datetime.fromtimestamp(created, UTC).date()
    return ["--since", day.isoformat(), "--until", day.fromordinal(day.toordinal() + 1).isoformat()]


async def apply(db, event) -> None:
    async with db.transaction() as session:
        await applied.apply(session, event)


async def test_reconcile_reports_nothing_for_a_booked_charge_then_the_one_difference_made(infra, scratch_ledger):
    url, db = scratch_ledger
    txn = await stripes_transaction(infra)
    assert txn["type"] == "charge"
    creator, payment_id = "c_reconcile", f"pay_{uuid.uuid4().hex[:12]}"
    await apply(db, PaymentSucceeded.new(
        PaymentSucceededData(
            payment_id=payment_id, fan_id="fan_1", creator_id=creator, price_minor=10_000, creator_share_minor=8_500,
            platform_fee_minor=1_500, currency="EUR", stripe_payment_intent_id="pi_reconcile",
            succeeded_at=datetime.now(UTC),
        ),
        producer="payments", creator_id=creator,
    ))
    await apply(db, PaymentFeeRecorded.new(
        PaymentFeeRecordedData(
            payment_id=payment_id, creator_id=creator, fee_minor=txn["fee"], currency=txn["currency"].upper(),
            stripe_balance_transaction_id=txn["id"], charge_amount_minor=10_000, charge_currency="EUR",
            settlement_amount_minor=txn["amount"],
        ),
        producer="payments", creator_id=creator,
    ))
    currency = txn["currency"].upper()

    sound = await asyncio.to_thread(run_ledger, url, "reconcile", *period_around(txn["created"]))
    assert sound.returncode == 0, sound.stdout + sound.stderr
    assert f"ledger reconcile: {currency}: Stripe {txn['net']}, the ledger {txn['net']}" in sound.stdout
    assert "1 balance transactions compared, no differences" in sound.stdout

    # One difference: a counter fee booked against the charge's balance transaction.
    await apply(db, DisputeFundsWithdrawn.new(
        DisputeFundsData(
            dispute_id="dsp_reconcile", payment_id=payment_id, creator_id=creator, amount_minor=0, fee_minor=25,
            currency=currency, stripe_balance_transaction_ids=[txn["id"]],
        ),
        producer="payments", creator_id=creator,
    ))
    differs = await asyncio.to_thread(run_ledger, url, "reconcile", *period_around(txn["created"]))
    assert differs.returncode == 1, differs.stdout + differs.stderr
    assert (
        f"ledger reconcile: {txn['id']} (charge): Stripe {txn['net']} {currency}, the ledger {txn['net'] - 25} "
        f"{currency}" in differs.stdout
    )
    assert "1 balance transactions compared, 1 differences" in differs.stdout


async def test_reconcile_reports_a_transaction_the_ledger_never_booked(infra, scratch_ledger):
    url, _ = scratch_ledger
    txn = await stripes_transaction(infra)
    missing = await asyncio.to_thread(run_ledger, url, "reconcile", *period_around(txn["created"]))
    assert missing.returncode == 1, missing.stdout + missing.stderr
    assert (
        f"ledger reconcile: {txn['id']} (charge): Stripe {txn['net']} {txn['currency'].upper()}, the ledger books "
        "nothing" in missing.stdout
    )


async def test_reconcile_compares_nothing_outside_the_period(infra, scratch_ledger):
    url, _ = scratch_ledger
    txn = await stripes_transaction(infra)
    later = period_around(txn["created"] + 86_400 * 2)
    done = await asyncio.to_thread(run_ledger, url, "reconcile", *later)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 balance transactions compared, no differences" in done.stdout
