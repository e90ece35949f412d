"""The batch rules of refunds and disputes (ledger.domain.movements): each event is
decided on the books as the events before it in the batch left them."""

import pytest

from ledger.domain import DebtAmounts, InvalidAmounts, StoredDebt, entitlement, movements
from ledger.domain.settlement import Settled

CREATOR = "c1"


def books(available: int, *, debt: int = 0, takebacks=None, refund_debts=None, posted=()) -> movements.Books:
    """Two posted payments of CREATOR: p1 (10000, share 8500) and p2 (5000, share 4250)."""
    return movements.Books(
        posted={("payment", "payment:p1"), ("payment", "payment:p2"), *posted},
        terms={"p1": movements.Terms(CREATOR, "EUR", 10000, 8500), "p2": movements.Terms(CREATOR, "EUR", 5000, 4250)},
        takebacks=dict(takebacks or {}),
        refund_debts=dict(refund_debts or {}),
        sums={"EUR": {f"creator:{CREATOR}:available": -available, f"creator:{CREATOR}:debt": debt}},
    )


def refund(refund_id: str, amount: int, payment_id: str = "p1", currency: str = "EUR") -> movements.Refund:
    return movements.Refund(payment_id=payment_id, creator_id=CREATOR, currency=currency, refund_id=refund_id,
                            amount_minor=amount, settled=Settled(amount, currency, amount, currency),
                            balance_transaction_id=None)


def dispute(dispute_id: str, amount: int, payment_id: str = "p1") -> movements.Dispute:
    return movements.Dispute(payment_id=payment_id, creator_id=CREATOR, currency="EUR", dispute_id=dispute_id,
                             amount_minor=amount)


def close(dispute_id: str, won: bool, payment_id: str = "p1") -> movements.DisputeClose:
    return movements.DisputeClose(payment_id=payment_id, creator_id=CREATOR, currency="EUR", dispute_id=dispute_id,
                                  amount_minor=0, won=won)


def taken(movement: movements.Movement) -> int:
    """What the movement took from the creator (available and debt together)."""
    return sum(p.amount_minor for p in movement.entry.postings
               if p.account in (f"creator:{CREATOR}:available", f"creator:{CREATOR}:debt"))


def test_two_refunds_of_one_payment_take_what_one_refund_of_both_takes():
    first, second = movements.refunds_created(books(8500), [refund("r1", 1001), refund("r2", 1001)])
    (both,) = movements.refunds_created(books(8500), [refund("r", 2002)])
    # floor(8500 * 1001 / 10000) = 850, then floor(8500 * 2002 / 10000) - 850 = 851
    assert (taken(first), taken(second)) == (850, 851)
    assert taken(first) + taken(second) == taken(both) == 1701


def test_the_second_refund_of_a_creator_takes_from_what_the_first_left():
    first, second = movements.refunds_created(books(3000), [refund("r1", 2000), refund("r2", 2000, "p2")])
    assert first.entry.opened_debt is None and first.entry.balance.available_minor == 3000 - 1700
    assert second.entry.opened_debt == movements.OpenedDebt("refund", "r2", 1700 - 1300)
    assert (second.entry.balance.available_minor, second.entry.balance.debt_minor) == (0, 400)


def test_a_refund_announced_again_in_the_batch_or_before_moves_nothing():
    counted = {"refund:r0": movements.Takeback("p1", entitlement.REFUND, 1000, entitlement.REFUNDED)}
    decided = movements.refunds_created(books(8500, takebacks=counted),
                                        [refund("r1", 1000), refund("r1", 1000), refund("r0", 1000)])
    assert decided[1:] == [None, None]
    # the payment's totals count r0: r1 takes floor(8500 * 2000 / 10000) - 850
    assert taken(decided[0]) == 850


def test_the_first_event_whose_payment_is_not_posted_waits():
    with pytest.raises(movements.Unposted) as waits:
        movements.refunds_created(books(8500), [refund("r1", 1000), refund("r2", 1000, "p9"), refund("r3", 1, "p8")])
    assert (waits.value.position, waits.value.kind, waits.value.reference) == (1, "payment", "payment:p9")


def test_a_refund_of_another_creators_or_currencys_payment_is_refused():
    with pytest.raises(InvalidAmounts, match="payment p1 is c1's in EUR, not c1's in USD"):
        movements.refunds_created(books(8500), [refund("r1", 1000, currency="USD")])


def test_a_failure_gives_back_what_its_refund_took_cancelling_its_debt_first_once():
    counted = {"refund:r1": movements.Takeback("p1", entitlement.REFUND, 2000, entitlement.REFUNDED)}
    debt = StoredDebt("debt-1", CREATOR, "EUR", DebtAmounts(1000, 1000))
    state = books(0, debt=1000, takebacks=counted, refund_debts={"r1": debt}, posted={("refund", "refund:r1")})
    failed, again, never_succeeded = movements.refunds_failed(state, [refund("r1", 2000), refund("r1", 2000), None])
    assert (again, never_succeeded) == (None, None)
    assert failed.takeback.status == entitlement.REFUND_FAILED
    assert failed.entry.reversed_debt == StoredDebt("debt-1", CREATOR, "EUR", DebtAmounts(1000, 0, 1000))
    assert (failed.entry.balance.available_minor, failed.entry.balance.debt_minor) == (1700 - 1000, 0)


def test_a_failure_of_a_refund_posted_but_never_counted_is_refused():
    state = books(0, posted={("refund", "refund:r1")})
    with pytest.raises(InvalidAmounts, match="posted but not counted"):
        movements.refunds_failed(state, [refund("r1", 2000)])


def test_disputes_of_one_payment_freeze_in_turn_and_one_close_each():
    opened = movements.disputes_opened(books(8500), [dispute("d1", 4000), dispute("d2", 2000), dispute("d1", 4000)])
    assert [taken(m) for m in opened[:2]] == [3400, 1700] and opened[2] is None
    open_disputes = {f"dispute:{d}": movements.Takeback("p1", entitlement.DISPUTE, amount, entitlement.DISPUTE_OPEN)
                     for d, amount in (("d1", 4000), ("d2", 2000))}
    state = books(8500, takebacks=open_disputes,
                  posted={("dispute_opened", "dispute:d1"), ("dispute_opened", "dispute:d2")})
    won, lost, closed_again = movements.disputes_closed(state, [close("d1", True), close("d2", False),
                                                                close("d1", False)])
    assert closed_again is None
    assert (won.takeback.status, won.entry.facts.fact_amount_minor) == (entitlement.DISPUTE_WON, 0)
    assert (lost.takeback.status, lost.entry.facts.fact_amount_minor) == (entitlement.DISPUTE_LOST, 2000)
    assert taken(won) == -3400 and taken(lost) == 0  # won: back to available; lost: the frozen share is gone


def test_a_refund_posted_before_takebacks_were_counted_is_counted_and_posts_nothing():
    (movement,) = movements.refunds_created(books(8500, posted={("refund", "refund:r1")}), [refund("r1", 1000)])
    assert movement.entry is None
    assert movement.takeback == movements.Takeback("p1", entitlement.REFUND, 1000, entitlement.REFUNDED)
