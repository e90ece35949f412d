"""The ledger's payout events applied set-based: a batch of requests, rejections,
cancellations, payments or failures costs a number of statements that does not
grow with it, and leaves exactly the rows (journal, postings, balances,
reservations, debts, parked events, announced events) applying the same events
one by one leaves: two requests of one creator deciding on what the first
left, duplicates, a later step read before an earlier one, a step read before
its request (parked), and an event naming another creator's payout
(dead-lettered alone). Real PostgreSQL and Kafka throughout."""

import json
from collections.abc import Sequence

import sqlalchemy as sa

from common.db import Database
from contracts.envelope import Event
from contracts.events.payouts import PayoutCanceled, PayoutRejected, PayoutRequested
from services.ledger.tests.integration.batches import (
    apply_as_one_batch,
    assert_journal_sound,
    ledger_consumer,
    records,
)
from services.ledger.tests.integration.test_payouts import decided, failed, paid, requested
from services.ledger.tests.integration.test_postings import payment, refund, refund_failed
from tests.support.dead_letters import dead_lettered
from tests.support.statements import statements_run


def in_debt_with_earnings(creator: str) -> list[Event]:
    """A creator owing 17.00 (a refund after the first payment's share was
    reserved for a payout) with 85.00 available again."""
    first = payment(creator)
    return [first, requested(creator, None), refund(first, amount=2000, clawback=1700), payment(creator)]


def requests(count: int, tag: str) -> tuple[list[Event], list[PayoutRequested]]:
    """What the creators' past leaves (to apply first), and `count` requests of
    30.00 over them, two per creator: the first deducts the creator's debt, the
    second is paid in full."""
    creators = [f"c_{tag}_{n}" for n in range(max(1, count // 2))]
    past = [event for creator in creators for event in in_debt_with_earnings(creator)]
    return past, [requested(creators[n % len(creators)], 3000) for n in range(count)]


STEPS = {
    "payout.rejected": lambda request: decided(PayoutRejected, request),
    "payout.canceled": lambda request: decided(PayoutCanceled, request, request.data.creator_id),
    "payout.paid": paid,
    "payout.failed": lambda request: failed(request, was_paid=False),
}


async def statements_of(database, events: Sequence[Event]) -> int:
    with statements_run(database) as sent:
        await apply_as_one_batch(database, events)
    return len(sent)


async def test_the_statements_of_a_batch_of_requests_do_not_grow_with_its_size(scratch_ledger):
    _, database = scratch_ledger
    past, warm = requests(1, "warm")
    await apply_as_one_batch(database, [*past, *warm])  # the connection's first-use queries are not counted
    counts = {}
    for size in (1, 3, 30):
        past, batch = requests(size, f"count{size}")
        await apply_as_one_batch(database, past)
        counts[size] = await statements_of(database, batch)
    print(f"\nSQL statements per batch of payout.requested events, by batch size: {counts}")
    assert counts[30] == counts[3] == counts[1], counts


async def test_the_statements_of_a_batch_of_payout_steps_do_not_grow_with_its_size(scratch_ledger):
    _, database = scratch_ledger
    past, warm = requests(1, "stepwarm")
    await apply_as_one_batch(database, [*past, *warm, paid(warm[0])])
    counts: dict[str, dict[int, int]] = {}
    for topic, step in STEPS.items():
        for size in (1, 3, 30):
            past, batch = requests(size, f"{topic}{size}")
            await apply_as_one_batch(database, past)
            await apply_as_one_batch(database, batch)
            counts.setdefault(topic, {})[size] = await statements_of(database, [step(r) for r in batch])
    print(f"\nSQL statements per batch of payout steps, by type and batch size: {counts}")
    for topic, by_size in counts.items():
        assert by_size[30] == by_size[3] == by_size[1], (topic, by_size)


def again(event: Event) -> Event:
    """The same fact announced once more, under another event id."""
    return type(event).new(event.data, producer="payouts", creator_id=event.creator_id)


def lives() -> tuple[list[Event], list[list[Event]]]:
    """What four creators' pasts leave (applied first, alike), then the batches
    under test: duplicates under another event id and the same event twice, two
    requests of a creator deducting one debt in one batch and a third refused
    for what they reserved, steps read before their request or a failure before
    its payment, two releases restoring one debt, a stale step, a release after
    the deducted debt's refund failed, and a step naming another creator's payout."""
    debtor, rich, failing, late = "c_life_debtor", "c_life_rich", "c_life_failing", "c_life_late"
    failing_past = in_debt_with_earnings(failing)
    past = [*in_debt_with_earnings(debtor), payment(rich), *failing_past, payment(late)]
    small, rest, too_much = requested(debtor, 1000), requested(debtor, 3000), requested(debtor, 6000)
    everything, deducting, early = requested(rich, None), requested(failing, 5000), requested(late, 3000)
    never_requested = requested(late, 2000)
    requests = [paid(early), small, rest, again(small), too_much, everything, everything, deducting, early]
    steps = [failed(everything, was_paid=True), decided(PayoutRejected, small), decided(PayoutRejected, rest),
             again(decided(PayoutRejected, small)), paid(small), decided(PayoutCanceled, never_requested),
             refund_failed(failing_past[2]), paid(everything)]
    foreign = PayoutCanceled.new(decided(PayoutCanceled, deducting).data.model_copy(update={"creator_id": rich}),
                                 producer="payouts", creator_id=rich)
    last = [foreign, failed(deducting, was_paid=False)]
    return past, [requests, steps, last]


async def through_the_consumer(infra, database: Database, batches: Sequence[Sequence[Event]]) -> None:
    """Each batch as the ledger's consumer applies it: all at once, redone with
    an event parked if it was read too early, record by record if one fails
    (that one dead-lettered)."""
    async with ledger_consumer(infra, database) as consumer:
        for batch in batches:
            await consumer.apply_batch(records(batch))


async def payout_rows(database: Database) -> dict[str, list]:
    """Every row the events left, in chain, id or key order, with what differs by
    nature between two databases (entry and debt ids, hashes, timestamps, emitted
    event ids) replaced by what names it alike: an entry by its cause event, a
    debt by its cause."""
    async with database.transaction() as session:
        def rows(query: str):
            return session.execute(sa.text(query))

        entries = (await rows("SELECT id, cause_event_id, kind, creator_id, reference FROM journal_entries"
                              " ORDER BY seq")).all()
        postings = (await rows("SELECT entry_id, account, currency, amount_minor FROM postings ORDER BY id")).all()
        balances = (await rows("SELECT account, currency, balance_minor FROM account_balances"
                               " ORDER BY account, currency")).all()
        debts = (await rows("SELECT id, cause_type, cause_id, creator_id, currency, amount_minor, remaining_minor,"
                            " reversed_minor, status FROM debts ORDER BY cause_type, cause_id")).all()
        stored = (await rows("SELECT payout_id, creator_id, currency, gross_minor, debt_deducted_minor, net_minor,"
                             " deductions, status, refusal_reason FROM payout_reservations ORDER BY payout_id")).all()
        parked = (await rows("SELECT event_id, topic, waits_for FROM parked_events ORDER BY id")).all()
        emitted = (await rows("SELECT topic, key, payload FROM outbox ORDER BY id")).all()
    cause_of = {str(row.id): row.cause_event_id for row in entries}
    debt_named = {str(row.id): f"{row.cause_type}:{row.cause_id}" for row in debts}

    def named(deductions: list[dict]) -> list[tuple[str, int]]:
        return [(debt_named[d["debt_id"]], d["amount_minor"]) for d in deductions]

    announced = []
    for topic, key, payload in emitted:
        event = json.loads(payload)
        data = dict(event["data"])
        if "journal_entry_id" in data:
            data["journal_entry_id"] = cause_of[data["journal_entry_id"]]
        if "debt_id" in data:
            data["debt_id"] = debt_named[data["debt_id"]]
        if "deductions" in data:
            data["deductions"] = named(data["deductions"])
        announced.append((topic, key, event["causation_id"], event["creator_id"], data))
    return {
        "journal": [tuple(row)[1:] for row in entries],
        "postings": [(cause_of[str(entry_id)], *rest) for entry_id, *rest in postings],
        "balances": [tuple(row) for row in balances],
        "debts": [tuple(row)[1:] for row in debts],
        "reservations": [(*row[:6], named(row.deductions if isinstance(row.deductions, list)
                                          else json.loads(row.deductions)), *row[7:]) for row in stored],
        "parked": [tuple(row) for row in parked],
        "announced": announced,
    }


async def test_batches_of_payout_events_leave_exactly_the_rows_they_leave_one_by_one(
    infra, scratch_ledger, other_scratch_ledger
):
    (one_url, one_by_one), (batch_url, batched) = scratch_ledger, other_scratch_ledger
    past, batches = lives()
    for database in (one_by_one, batched):
        await through_the_consumer(infra, database, [past])
    await through_the_consumer(infra, one_by_one, [[event] for batch in batches for event in batch])
    await through_the_consumer(infra, batched, batches)

    expected, found = await payout_rows(one_by_one), await payout_rows(batched)
    for table in expected:
        assert found[table] == expected[table], table
    requests, steps, [foreign, _] = batches
    reservations = {row[0]: row for row in found["reservations"]}
    small, rest, _, too_much, everything, _, deducting, early = requests[1:]
    assert [reservations[r.data.payout_id][-2:] for r in (small, rest, too_much, everything, deducting, early)] == [
        ("RELEASED", None), ("RELEASED", None), ("REFUSED", "insufficient_available"), ("FAILED", None),
        ("FAILED", None), ("PAID", None),
    ]
    debts = {row[2]: row[4:] for row in found["debts"]}  # creator -> amount, remaining, reversed, status
    assert debts == {"c_life_debtor": (1700, 1700, 0, "OPEN"), "c_life_failing": (1700, 0, 1700, "REVERSED")}
    assert [row[0] for row in found["parked"]] == [steps[5].event_id]  # never requested: still waiting
    headers = await dead_lettered(infra, foreign)
    assert headers["x-error-type"] == b"InvalidAmounts"
    assert b"is c_life_failing's, not c_life_rich's" in headers["x-error"]
    await assert_journal_sound(one_url)
    await assert_journal_sound(batch_url)
