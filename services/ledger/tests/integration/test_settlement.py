"""A charge in one currency settled on a balance in another: every currency
balances on its own, the creator stays in the charge currency, and a dispute's
funds held in the charge currency net to zero when it closes (issue 11, section 5).

Before, fees and dispute funds were booked in the balance transaction's currency
and the payment in the charge's, so `stripe:balance` kept the EUR price for
ever and `stripe:disputed_funds` ended at +USD / -EUR instead of zero. Refunds
were booked in the charge currency alone, so a refund took EUR out of a balance
that holds USD (`stripe:balance` negative in EUR, the USD one too high)."""

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
from contracts.events.refunds import RefundCreated, RefundCreatedData, RefundFailed, RefundFailedData
from ledger import models
from services.ledger.tests.integration import applied
from services.ledger.tests.integration.ledger_cli import run_ledger

CREATOR, PAYMENT, DISPUTE, REFUND = "c_converted", "pay_converted", "dsp_converted", "ref_converted"


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


def _paid_and_settled() -> list:
    return [
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
    ]


async def apply(db, events) -> None:
    for event in events:
        async with db.transaction() as session:
            await applied.apply(session, event)


def assert_each_currency_balances(totals) -> None:
    for currency in ("EUR", "USD"):
        assert sum(total for (_, cur), total in totals.items() if cur == currency) == 0, currency


async def test_a_refund_of_a_eur_charge_on_a_usd_balance_leaves_the_usd_balance_and_fails_back_into_it(
    scratch_ledger,
) -> None:
    url, db = scratch_ledger
    refund = dict(refund_id=REFUND, payment_id=PAYMENT, creator_id=CREATOR, stripe_refund_id="re_converted",
                  amount_minor=1_001, currency="EUR")
    # 10.01 EUR given back to the fan, paid from the balance as 10.91 USD (rate 1.09)
    refunded = _new(RefundCreated, RefundCreatedData(
        **refund, creator_clawback_minor=850, refunded_total_minor=1_001, balance_transaction_id="txn_re",
        settlement_amount_minor=1_091, settlement_currency="USD", exchange_rate="1.09",
    ))
    await apply(db, [*_paid_and_settled(), refunded])

    totals = await sums(db)
    assert_each_currency_balances(totals)
    assert totals[("stripe:balance", "EUR")] == 0  # no EUR ever sat on the USD balance
    assert totals[("stripe:balance", "USD")] == 10_870 - 388 - 1_091
    assert (totals[("stripe:conversion", "EUR")], totals[("stripe:conversion", "USD")]) == (
        10_000 - 1_001, -10_870 + 1_091)
    async with db.transaction() as session:
        balance = await models.creator_balance(session, CREATOR, "EUR")
        assert (balance.available_minor, balance.debt_minor) == (8_500 - 850, 0)  # floor(8500 * 1001 / 10000) = 850
        assert [b.currency for b in await models.creator_balances(session, CREATOR)] == ["EUR"]
        assert await models.booked_on_stripe_balance(session, ["txn_re"]) == {"txn_re": {"USD": -1_091}}
    checked = await asyncio.to_thread(run_ledger, url, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The card was closed: the refund fails and comes back to the balance as 10.81 USD (rate 1.08)
    await apply(db, [_new(RefundFailed, RefundFailedData(
        **refund, creator_clawback_minor=850, was_succeeded=True, failure_reason="expired_or_canceled_card",
        balance_transaction_id="txn_rf", settlement_amount_minor=1_081, settlement_currency="USD",
        exchange_rate="1.08",
    ))])

    totals = await sums(db)
    assert_each_currency_balances(totals)
    assert totals[("stripe:balance", "EUR")] == 0
    assert totals[("stripe:balance", "USD")] == 10_870 - 388 - 1_091 + 1_081
    # The EUR charge is converted whole again; the USD side keeps the exchange loss of 0.10 USD.
    assert (totals[("stripe:conversion", "EUR")], totals[("stripe:conversion", "USD")]) == (
        10_000, -10_870 + 1_091 - 1_081)
    async with db.transaction() as session:
        balance = await models.creator_balance(session, CREATOR, "EUR")
        assert (balance.available_minor, balance.debt_minor) == (8_500, 0)
        assert await models.booked_on_stripe_balance(session, ["txn_rf"]) == {"txn_rf": {"USD": 1_081}}
    checked = await asyncio.to_thread(run_ledger, url, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_a_refund_without_settlement_fields_is_booked_in_its_own_currency(scratch_ledger) -> None:
    """Events from before the fields: booked as they always were, unconverted."""
    url, db = scratch_ledger
    await apply(db, [*_paid_and_settled(), _new(RefundCreated, RefundCreatedData(
        refund_id=REFUND, payment_id=PAYMENT, creator_id=CREATOR, stripe_refund_id="re_converted",
        amount_minor=1_001, currency="EUR", creator_clawback_minor=850, refunded_total_minor=1_001,
    ))])
    totals = await sums(db)
    assert_each_currency_balances(totals)
    assert totals[("stripe:balance", "EUR")] == -1_001
    assert (totals[("stripe:conversion", "EUR")], totals[("stripe:conversion", "USD")]) == (10_000, -10_870)
    checked = await asyncio.to_thread(run_ledger, url, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


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
            await applied.apply(session, event)

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
