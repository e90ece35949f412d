"""payment.fee_recorded (one per payment: its charge's balance transaction)
applied set-based, like the payment itself: a batch's fee entries are posted in
a number of statements that does not grow with it, and leave exactly the rows
applying the same events one by one leaves, duplicates included. Real
PostgreSQL throughout."""

from contracts.events.payments import PaymentFeeRecorded, PaymentFeeRecordedData
from services.ledger.tests.integration.batches import (
    apply_as_one_batch,
    apply_one_by_one,
    assert_journal_sound,
    ledger_rows,
    payments,
)
from tests.support.statements import statements_run


def fee(payment_id: str, creator: str, n: int) -> PaymentFeeRecorded:
    """The fee of one payment; one in three settled in another currency (converted)."""
    converted = n % 3 == 2
    return PaymentFeeRecorded.new(
        PaymentFeeRecordedData(
            payment_id=payment_id, creator_id=creator, fee_minor=30 + 7 * n, currency="EUR",
            stripe_balance_transaction_id=f"txn_{payment_id}",
            charge_amount_minor=999 + 137 * n, charge_currency="USD" if converted else "EUR",
            settlement_amount_minor=(999 + 137 * n) * 92 // 100 if converted else 999 + 137 * n,
            exchange_rate="0.92" if converted else None,
        ),
        producer="payments", creator_id=creator,
    )


def fees_of(paid) -> list[PaymentFeeRecorded]:
    return [fee(event.data.payment_id, event.data.creator_id, n) for n, event in enumerate(paid)]


def again(recorded: PaymentFeeRecorded) -> PaymentFeeRecorded:
    """The same fee announced once more, under another event id."""
    return PaymentFeeRecorded.new(recorded.data, producer="payments", creator_id=recorded.data.creator_id)


async def test_a_batch_of_fees_leaves_exactly_the_rows_they_leave_one_by_one(scratch_ledger, other_scratch_ledger):
    (_, one_by_one), (batch_url, batched) = scratch_ledger, other_scratch_ledger
    for tag, size in (("fee3", 3), ("fee30", 30)):
        paid = payments(size, tag)
        fees = fees_of(paid)
        await apply_one_by_one(one_by_one, paid + fees)
        await apply_one_by_one(batched, paid)
        await apply_as_one_batch(batched, fees)

    rows = await ledger_rows(batched)
    assert rows == await ledger_rows(one_by_one)
    assert sum(1 for entry in rows["journal"] if entry[1] == "processing_fee") == 33
    await assert_journal_sound(batch_url)


async def test_a_fee_booked_before_or_twice_in_the_batch_is_booked_once(scratch_ledger, other_scratch_ledger):
    (_, one_by_one), (batch_url, batched) = scratch_ledger, other_scratch_ledger
    paid = payments(3, "feedup")
    booked_before, twice, once = fees_of(paid)
    for database in (one_by_one, batched):
        await apply_one_by_one(database, [*paid, booked_before])
    batch = [again(booked_before), twice, once, again(twice)]
    await apply_one_by_one(one_by_one, batch)
    await apply_as_one_batch(batched, batch)

    rows = await ledger_rows(batched)
    assert rows == await ledger_rows(one_by_one)
    assert [entry[0] for entry in rows["journal"] if entry[1] == "processing_fee"] == [
        booked_before.event_id, twice.event_id, once.event_id]
    await assert_journal_sound(batch_url)


async def test_the_statements_of_a_batch_of_fees_do_not_grow_with_its_size(scratch_ledger):
    _, database = scratch_ledger
    await apply_as_one_batch(database, fees_of(payments(1, "feewarm")))  # first-use queries not counted
    counts = {}
    for size in (1, 3, 30):
        fees = fees_of(payments(size, f"feecount{size}"))
        with statements_run(database) as sent:
            await apply_as_one_batch(database, fees)
        counts[size] = len(sent)
    print(f"\nSQL statements per batch of payment.fee_recorded events, by batch size: {counts}")
    assert counts[30] == counts[3] == counts[1], counts
