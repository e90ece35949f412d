"""The ledger's payout events applied set-based: a batch of requests, rejections,
cancellations, payments or failures costs a number of statements that does not
grow with it, and leaves exactly the rows (journal, postings, balances,
reservations, debts, parked events, announced events) applying the same events
one by one leaves: two requests of one creator deciding on what the first
left, duplicates, a later step read before an earlier one, a step read before
its request (parked), and an event naming another creator's payout
(dead-lettered alone). Real PostgreSQL and Kafka throughout."""

from collections.abc import Sequence

from contracts.envelope import Event
from contracts.events.payouts import PayoutCanceled, PayoutRejected, PayoutRequested
from services.ledger.tests.integration.test_payment_batches import apply_as_one_batch
from services.ledger.tests.integration.test_payouts import decided, failed, paid, requested
from services.ledger.tests.integration.test_postings import payment, refund
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
