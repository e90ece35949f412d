"""Refunds and disputes applied set-based: a batch of refund.created,
refund.failed, dispute.created, dispute.closed, dispute.funds_withdrawn or
dispute.funds_reinstated costs a number of statements that does not grow with
it, and leaves exactly the rows (journal and chain, postings, balance rows,
takebacks, debts, parked events, DebtCreated and BalanceChanged) applying the
same events one by one leaves: two refunds of one payment or one creator,
duplicates, events read before the one they build on, one whose payment never
comes, one refused. Real PostgreSQL and Kafka throughout, through the consumer."""

from contracts.envelope import Event
from contracts.events.disputes import (
    DisputeClosed,
    DisputeClosedData,
    DisputeCreated,
    DisputeData,
    DisputeFundsReinstated,
    DisputeFundsWithdrawn,
)
from contracts.events.payments import PaymentSucceeded
from contracts.events.payouts import PayoutRejected, PayoutRequested, PayoutRequestedData
from contracts.events.refunds import RefundCreated
from services.ledger.tests.integration import applied
from services.ledger.tests.integration.batches import (
    apply_as_one_batch,
    apply_one_by_one,
    assert_journal_sound,
    ledger_consumer,
    ledger_rows,
    payment,
    payments,
    records,
)
from services.ledger.tests.integration.test_payouts import decided
from services.ledger.tests.integration.test_postings import dispute_data, funds, refund, refund_failed
from tests.support.dead_letters import dead_lettered
from tests.support.statements import statements_run


def payout(creator: str, payout_id: str, amount: int | None, currency: str = "EUR") -> PayoutRequested:
    """A payout of `amount` (None: all available): what it reserves, later takebacks cannot take."""
    return PayoutRequested.new(
        PayoutRequestedData(payout_id=payout_id, creator_id=creator, currency=currency, amount_minor=amount,
                            minimum_minor=0, requested_by=creator),
        producer="payouts", creator_id=creator,
    )


def opened(paid: PaymentSucceeded, dispute_id: str, amount: int) -> DisputeCreated:
    return DisputeCreated.new(
        DisputeData(**dispute_data(paid, dispute_id, amount, amount * 85 // 100, "needs_response")),
        producer="payments", creator_id=paid.data.creator_id,
    )


def closed(paid: PaymentSucceeded, dispute_id: str, amount: int, outcome: str) -> DisputeClosed:
    return DisputeClosed.new(
        DisputeClosedData(**dispute_data(paid, dispute_id, amount, amount * 85 // 100, outcome), outcome=outcome),
        producer="payments", creator_id=paid.data.creator_id,
    )


def again(event: Event) -> Event:
    """The same fact announced once more, under another event id."""
    return type(event).new(event.data, producer="payments", creator_id=event.creator_id)


async def consume_one_by_one(infra, database, events: list[Event]) -> None:
    async with ledger_consumer(infra, database) as consumer:
        for record in records(events):
            await consumer.apply_batch((record,))


async def consume_as_one_batch(infra, database, events: list[Event]) -> None:
    async with ledger_consumer(infra, database) as consumer:
        await consumer.apply_batch(records(events))


async def both_ways(infra, one_by_one, batched, setup: list[Event], batch: list[Event]) -> dict[str, list]:
    """`setup` one by one in both ledgers, then `batch` one by one in one and as
    one batch in the other: the rows they leave, which must be the same."""
    for database in (one_by_one, batched):
        await consume_one_by_one(infra, database, setup)
    await consume_one_by_one(infra, one_by_one, batch)
    await consume_as_one_batch(infra, batched, batch)
    rows = await ledger_rows(batched)
    assert rows == await ledger_rows(one_by_one)
    return rows


def books(tag: str):
    """Creators with money already moved: a (two payments, most of it paid
    out), b (all paid out, a refund in debt), c (a dispute open)."""
    p1, p2 = payment(f"a_{tag}", f"p1_{tag}", 10000), payment(f"a_{tag}", f"p2_{tag}", 5000)
    p3, p4 = payment(f"b_{tag}", f"p3_{tag}", 8000), payment(f"c_{tag}", f"p4_{tag}", 6000)
    r0 = refund(p3, amount=2000, clawback=1700, refund_id=f"r0_{tag}")
    setup = [p1, p2, p3, p4, payout(f"a_{tag}", f"po_a_{tag}", 10000), payout(f"b_{tag}", f"po_b_{tag}", None), r0,
             opened(p4, f"d0_{tag}", 3000)]
    return (p1, p2, p3, p4, r0), setup


async def test_a_batch_of_refunds_leaves_exactly_the_rows_they_leave_one_by_one(
    infra, scratch_ledger, other_scratch_ledger
):
    (_, one_by_one), (batch_url, batched) = scratch_ledger, other_scratch_ledger
    (p1, p2, p3, _, r0), setup = books("rf")
    r1 = refund(p1, amount=3000, clawback=2550, refund_id="r1_rf")
    r2 = refund(p1, amount=4000, clawback=3400, refund_id="r2_rf")  # a's 2750 - 2550 left: 3200 of it is debt
    r3 = refund(p3, amount=1000, clawback=850, refund_id="r3_rf")  # b has nothing left: debt
    r4 = refund(p3, amount=3000, clawback=2550, refund_id="r4_rf")  # b's second debt, deducted after r3's
    rx = refund(p2, amount=5000, clawback=4250, refund_id="rx_rf")
    batch = [
        r1, r2, again(r1), r3, r4, r4,  # r4's own event twice in the batch: the inbox drops the copy
        refund_failed(r0), again(refund_failed(r0)),  # r0's debt reversed, once
        refund_failed(r2, was_succeeded=False),  # failed before it succeeded: nothing to reverse
        refund_failed(rx), rx,  # a failure read before its refund: parked, applied after it
    ]
    rows = await both_ways(infra, one_by_one, batched, setup, batch)
    assert [(debt[3], debt[6], debt[8]) for debt in rows["debts"]] == [
        ("r0_rf", 0, "REVERSED"), ("r2_rf", 3200, "OPEN"), ("r3_rf", 850, "OPEN"), ("r4_rf", 2550, "OPEN"),
        ("rx_rf", 0, "REVERSED")]
    assert ("refund:rx_rf", "p2_rf", "refund", 5000, "FAILED") in rows["takebacks"]
    assert rows["parked"] == []
    await assert_journal_sound(batch_url)


async def test_a_batch_of_disputes_leaves_exactly_the_rows_they_leave_one_by_one(
    infra, scratch_ledger, other_scratch_ledger
):
    (_, one_by_one), (batch_url, batched) = scratch_ledger, other_scratch_ledger
    (p1, _, p3, p4, _), setup = books("dp")
    withdrawn = funds(DisputeFundsWithdrawn, p4, "d0_dp", 3000, 1500)
    never_paid = payment("c_dp", "p_never_dp", 2000)
    unknown_payment = refund(never_paid, amount=500, clawback=425, refund_id="r_never_dp")
    batch = [
        opened(p1, "d1_dp", 4000), opened(p1, "d2_dp", 2000),  # one payment: the second sees the first's totals
        opened(p3, "d3_dp", 1000), again(opened(p1, "d1_dp", 4000)),
        withdrawn, again(withdrawn),  # one balance transaction, booked once
        funds(DisputeFundsWithdrawn, p1, "d2_dp", 2000, 1500), funds(DisputeFundsReinstated, p1, "d2_dp", 2000, 0),
        closed(p4, "d0_dp", 3000, "lost"), closed(p4, "d0_dp", 3000, "won"),  # one close per dispute
        closed(p1, "d2_dp", 2000, "won"),
        unknown_payment,  # its payment never comes: it stays parked
        closed(p4, "d4_dp", 1000, "won"), opened(p4, "d4_dp", 1000),  # a close read before its opening
    ]
    rows = await both_ways(infra, one_by_one, batched, setup, batch)
    assert [takeback[4] for takeback in rows["takebacks"]] == ["LOST", "OPEN", "WON", "OPEN", "WON", "REFUNDED"]
    assert [debt[3] for debt in rows["debts"]] == ["r0_dp", "d1_dp", "d2_dp", "d3_dp"]
    assert [(row[0], row[2]) for row in rows["parked"]] == [
        (unknown_payment.event_id, "entry:payment:payment:p_never_dp")]
    await assert_journal_sound(batch_url)


async def test_a_refused_movement_is_dead_lettered_and_the_rest_of_the_batch_applied(
    infra, scratch_ledger, other_scratch_ledger
):
    (_, one_by_one), (batch_url, batched) = scratch_ledger, other_scratch_ledger
    # One creator's refunds (one topic, one key): those after the refused one
    # keep their order (the consumer sets them aside with it).
    (p1, p2, *_), setup = books("bad")
    wrong_currency = RefundCreated.new(
        refund(p1, amount=1000, clawback=850, refund_id="r_usd_bad").data.model_copy(update={"currency": "USD"}),
        producer="payments", creator_id=p1.data.creator_id,
    )
    batch = [refund(p1, amount=1000, clawback=850, refund_id="r1_bad"), wrong_currency,
             refund(p1, amount=2000, clawback=1700, refund_id="r2_bad"), refund(p2, amount=1000, clawback=850,
                                                                                 refund_id="r3_bad")]
    rows = await both_ways(infra, one_by_one, batched, setup, batch)
    assert [takeback[0] for takeback in rows["takebacks"]] == [
        "dispute:d0_bad", "refund:r0_bad", "refund:r1_bad", "refund:r2_bad", "refund:r3_bad"]
    headers = await dead_lettered(infra, wrong_currency)
    assert headers["x-error-type"] == b"InvalidAmounts"
    assert b"payment p1_bad is a_bad's in EUR, not a_bad's in USD" in headers["x-error"]
    await assert_journal_sound(batch_url)


async def test_a_refund_failing_between_a_payout_and_its_release_leaves_the_debt_the_journal_holds(scratch_ledger):
    """A payout deducts part of a refund's debt, the refund fails (the rest is
    cancelled), the payout is released: in one transaction, each sees the debt
    as the one before left it, and the deducted part is not owed again."""
    url, database = scratch_ledger
    p1, p2 = payment("c_mix", "p1_mix", 10000), payment("c_mix", "p2_mix", 10000)
    all_of_it, some_of_the_debt = payout("c_mix", "po1_mix", None), payout("c_mix", "po2_mix", 1000)
    taken_back = refund(p1, amount=4000, clawback=3400, refund_id="r_mix")  # all paid out: 3400 of debt
    async with database.transaction() as session:
        await applied.apply(
            session, p1, p2, all_of_it, taken_back, decided(PayoutRejected, all_of_it),
            some_of_the_debt,  # 1000 of the refund's debt deducted: 2400 still open
            refund_failed(taken_back),  # the 2400 cancelled, the 1000 deducted back to available
            decided(PayoutRejected, some_of_the_debt),  # the 1000 deducted is not owed again: its refund failed
        )
    debts = (await ledger_rows(database))["debts"]
    assert [(debt[3], debt[5:]) for debt in debts] == [("r_mix", (3400, 0, 3400, "REVERSED"))]
    await assert_journal_sound(url)


def paid_out(paid: list[PaymentSucceeded], tag: str) -> list[PayoutRequested]:
    """All available paid out: each refund and each dispute after opens a debt (the most a batch writes)."""
    return [payout(creator, f"po_{tag}_{creator}_{currency}", None, currency)
            for creator, currency in dict.fromkeys((p.data.creator_id, p.data.currency) for p in paid)]


def takebacks_of(paid: list[PaymentSucceeded], tag: str) -> dict[str, list[Event]]:
    """Each kind of movement, one per payment, in the order payments emits them."""
    refunds = [refund(p, amount=p.data.price_minor // 2, clawback=0, refund_id=f"r_{tag}_{n}")
               for n, p in enumerate(paid)]
    disputes = [(p, f"d_{tag}_{n}", p.data.price_minor // 3) for n, p in enumerate(paid)]
    return {
        "refund.created": refunds,
        "refund.failed": [refund_failed(r) for r in refunds],
        "dispute.created": [opened(p, d, amount) for p, d, amount in disputes],
        "dispute.funds_withdrawn": [funds(DisputeFundsWithdrawn, p, d, amount, 1500) for p, d, amount in disputes],
        "dispute.funds_reinstated": [funds(DisputeFundsReinstated, p, d, amount, 0) for p, d, amount in disputes],
        "dispute.closed": [closed(p, d, amount, "won" if n % 2 else "lost")
                           for n, (p, d, amount) in enumerate(disputes)],
    }


async def test_the_statements_of_a_batch_of_takebacks_do_not_grow_with_its_size(scratch_ledger):
    _, database = scratch_ledger
    counts: dict[str, dict[int, int]] = {}
    # The first batches warm the connection up (its first-use queries are not counted).
    for run, size in enumerate((1, 1, 3, 30)):
        paid = payments(size, f"run{run}")
        await apply_one_by_one(database, [*paid, *paid_out(paid, f"run{run}")])
        for topic, events in takebacks_of(paid, f"run{run}").items():
            with statements_run(database) as sent:
                await apply_as_one_batch(database, events)
            counts.setdefault(topic, {})[size] = len(sent)
    print(f"\nSQL statements per batch, by event type and batch size: {counts}")
    for topic, by_size in counts.items():
        assert by_size[30] == by_size[3] == by_size[1], (topic, by_size)
