"""payment.succeeded applied set-based: a batch of payments is posted in a number
of statements that does not grow with it, and leaves exactly the rows applying
the same events one by one leaves (the journal and its chain, postings, balance
rows, payment terms, BalanceChanged events), duplicates and refused events
included. Real PostgreSQL and Kafka throughout."""

from services.ledger.tests.integration.batches import (
    again,
    apply_as_one_batch,
    apply_one_by_one,
    assert_journal_sound,
    ledger_consumer,
    ledger_rows,
    payment,
    payments,
    records,
)
from tests.support.dead_letters import dead_lettered
from tests.support.statements import statements_run


async def test_a_batch_leaves_exactly_the_rows_its_payments_leave_one_by_one(scratch_ledger, other_scratch_ledger):
    (one_url, one_by_one), (batch_url, batched) = scratch_ledger, other_scratch_ledger
    earlier = payments(2, "earlier")  # the batches' entries chain onto entries already there
    for events in (earlier, payments(3, "three"), payments(30, "thirty")):
        await apply_one_by_one(one_by_one, events)
        await apply_as_one_batch(batched, events)

    expected, found = await ledger_rows(one_by_one), await ledger_rows(batched)
    assert len(found["journal"]) == 35 and len(found["postings"]) == 105 and len(found["announced"]) == 35
    for table in expected:
        assert found[table] == expected[table], table
    await assert_journal_sound(one_url)
    await assert_journal_sound(batch_url)


async def test_each_announced_balance_is_the_one_its_entry_left(other_scratch_ledger):
    _, database = other_scratch_ledger
    first, second, elsewhere, third = (payment("c_running", "pay_run_1", 1000), payment("c_running", "pay_run_2", 2000),
                                       payment("c_other", "pay_run_3", 500), payment("c_running", "pay_run_4", 3000))
    await apply_as_one_batch(database, [first, second, elsewhere, third])

    announced = [(row[3], row[6]["available_minor"]) for row in (await ledger_rows(database))["announced"]]
    assert announced == [
        (str(first.event_id), 850), (str(second.event_id), 850 + 1700),
        (str(elsewhere.event_id), 425), (str(third.event_id), 850 + 1700 + 2550),
    ]


async def test_a_payment_posted_before_or_twice_in_the_batch_is_posted_once(scratch_ledger, other_scratch_ledger):
    (_, one_by_one), (batch_url, batched) = scratch_ledger, other_scratch_ledger
    posted_before = payment("c_dup", "pay_dup_before", 4000)
    twice, once = payment("c_dup", "pay_dup_twice", 5000), payment("c_dup_other", "pay_dup_once", 6000)
    batch = [again(posted_before), twice, once, again(twice)]
    for database, apply in ((one_by_one, apply_one_by_one), (batched, apply_as_one_batch)):
        await apply(database, [posted_before])
        await apply(database, batch)

    rows = await ledger_rows(batched)
    assert rows == await ledger_rows(one_by_one)
    assert [entry[0] for entry in rows["journal"]] == [posted_before.event_id, twice.event_id, once.event_id]
    assert [term[0] for term in rows["terms"]] == ["pay_dup_before", "pay_dup_once", "pay_dup_twice"]
    assert [row[3] for row in rows["announced"]] == [str(posted_before.event_id), str(twice.event_id),
                                                    str(once.event_id)]
    assert ("creator:c_dup:available", "EUR", -(3400 + 4250)) in rows["balances"]
    await assert_journal_sound(batch_url)


async def test_the_statements_of_a_batch_do_not_grow_with_its_size(scratch_ledger):
    _, database = scratch_ledger
    await apply_as_one_batch(database, payments(1, "warm"))  # the connection's first-use queries are not counted
    counts = {}
    for size in (1, 3, 30):
        with statements_run(database) as sent:
            await apply_as_one_batch(database, payments(size, f"count{size}"))
        counts[size] = len(sent)
    print(f"\nSQL statements per batch of payment.succeeded events, by batch size: {counts}")
    assert counts[30] == counts[3] == counts[1], counts


async def test_impossible_amounts_are_dead_lettered_and_the_rest_of_the_batch_applied(infra, scratch_ledger):
    url, database = scratch_ledger
    refused = payment("c_poison", "pay_poison", 10000, share=12000)
    before, after = payment("c_poison", "pay_fine_1", 3000), payment("c_poison", "pay_fine_2", 4000)
    elsewhere = payment("c_poison_other", "pay_fine_3", 5000)
    batch = [before, refused, after, elsewhere]
    async with ledger_consumer(infra, database) as consumer:
        await consumer.apply_batch(records(batch))

    rows = await ledger_rows(database)
    applied = (before, after, elsewhere)  # `after` once the refused one is dead-lettered: a key's order holds
    assert sorted(str(entry[0]) for entry in rows["journal"]) == sorted(str(e.event_id) for e in applied)
    assert [term[0] for term in rows["terms"]] == ["pay_fine_1", "pay_fine_2", "pay_fine_3"]
    assert sorted(row[3] for row in rows["announced"]) == sorted(str(e.event_id) for e in applied)
    assert ("creator:c_poison:available", "EUR", -(2550 + 3400)) in rows["balances"]
    headers = await dead_lettered(infra, refused)
    assert headers["x-error-type"] == b"InvalidAmounts"
    assert b"share 12000 is more than the price 10000" in headers["x-error"]
    assert headers["x-attempts"] == b"1"  # a rule error is not retried
    await assert_journal_sound(url)
