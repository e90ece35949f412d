"""A charge in one currency settled on a balance in another: every currency
balances on its own, the creator stays in the charge currency, and a dispute's
funds held in the charge currency net to zero when it closes (issue 11, section 5).

Before, fees and dispute funds were booked in the balance transaction's currency
and the payment in the charge's, so `stripe:balance` kept the EUR price for
ever and `stripe:disputed_funds` ended at +USD / -EUR instead of zero."""

import asyncio
from collections import defaultdict
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from contracts.events.disputes import (
    DisputeClosed,
    DisputeClosedData,
    DisputeCreated,
    DisputeData,
    DisputeFundsData,
    DisputeFundsReinstated,
    DisputeFundsWithdrawn,
)
from contracts.events.payments import PaymentFeeRecorded, PaymentFeeRecordedData, PaymentSucceeded, PaymentSucceededData
from ledger import handlers, models
from services.ledger.tests.integration.ledger_cli import run_ledger

CREATOR, PAYMENT, DISPUTE = "c_converted", "pay_converted", "dsp_converted"


def _new(model, data):
    return model.new(data, producer="payments", creator_id=CREATOR)


def _dispute(status: str) -> dict:
    return dict(dispute_id=DISPUTE, stripe_dispute_id="dp_converted", payment_id=PAYMENT, creator_id=CREATOR,
                amount_minor=10_000, currency="EUR", creator_share_minor=8_500, status=status)


def _funds(model, usd: int, fee: int, rate: str, txn: str):
    return _new(model, DisputeFundsData(
        dispute_id=DISPUTE, payment_id=PAYMENT, creator_id=CREATOR, amount_minor=usd, fee_minor=fee, currency="USD",
        stripe_balance_transaction_ids=[txn], charge_amount_minor=10_000, charge_currency="EUR", exchange_rate=rate,
    ))


async def sums(db) -> dict[tuple[str, str], int]:
    async with db.transaction() as session:
        rows = await session.execute(
            sa.select(models.PostingRow.account, models.PostingRow.currency, sa.func.sum(models.PostingRow.amount_minor))
            .group_by(models.PostingRow.account, models.PostingRow.currency)
        )
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for account, currency, total in rows:
        totals[(account, currency)] = int(total)
    return totals


@pytest.mark.parametrize("outcome", ["lost", "won"])
async def test_a_eur_charge_on_a_usd_balance_balances_each_currency_on_its_own(scratch_ledger, outcome) -> None:
    url, db = scratch_ledger
    events = [
        _new(PaymentSucceeded, PaymentSucceededData(
            payment_id=PAYMENT, fan_id="fan_1", creator_id=CREATOR, price_minor=10_000, creator_share_minor=8_500,
            platform_fee_minor=1_500, currency="EUR", stripe_payment_intent_id="pi_converted",
            succeeded_at=datetime.now(UTC),
        )),
        # 100.00 EUR booked as 108.70 USD, Stripe's fee 3.88 USD
        _new(PaymentFeeRecorded, PaymentFeeRecordedData(
            payment_id=PAYMENT, creator_id=CREATOR, fee_minor=388, currency="USD", stripe_balance_transaction_id="txn_c",
            charge_amount_minor=10_000, charge_currency="EUR", settlement_amount_minor=10_870, exchange_rate="1.087",
        )),
        _new(DisputeCreated, DisputeData(**_dispute("needs_response"))),
        # the network takes the 100.00 EUR, now 109.00 USD, plus a 15.00 USD fee
        _funds(DisputeFundsWithdrawn, 10_900, 1_500, "1.09", "txn_w"),
    ]
    if outcome == "won":  # given back at yet another rate, the fee kept
        events.append(_funds(DisputeFundsReinstated, 10_800, 0, "1.08", "txn_r"))
    events.append(_new(DisputeClosed, DisputeClosedData(**_dispute(outcome), outcome=outcome)))
    for event in events:
        async with db.transaction() as session:
            await handlers.handlers.subscriptions[event.TOPIC].handler(event, session)

    totals = await sums(db)
    for currency in ("EUR", "USD"):
        assert sum(total for (_, cur), total in totals.items() if cur == currency) == 0
    # Nothing of the charge stays in EUR at Stripe: the balance is in USD.
    assert totals[("stripe:balance", "EUR")] == 0
    assert totals[("stripe:conversion", "EUR")] == (10_000 - 10_000 if outcome == "lost" else 10_000)
    # The disputed funds are held in the dispute's currency and end at zero in every currency.
    assert totals[("stripe:disputed_funds", "EUR")] == 0
    assert ("stripe:disputed_funds", "USD") not in totals
    assert totals[("platform:processing_fees", "USD")] == 388
    assert totals[("platform:dispute_fees", "USD")] == 1_500
    usd_left = 10_870 - 388 - 10_900 - 1_500 + (10_800 if outcome == "won" else 0)
    assert totals[("stripe:balance", "USD")] == usd_left
    # The creator only ever sees EUR.
    assert {cur for (account, cur) in totals if account.startswith("creator:")} == {"EUR"}
    assert -totals[(f"creator:{CREATOR}:available", "EUR")] == (0 if outcome == "lost" else 8_500)

    checked = await asyncio.to_thread(run_ledger, url, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
