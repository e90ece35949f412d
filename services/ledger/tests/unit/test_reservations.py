"""The pure decision of a run of payout events (ledger.domain.reservations): each event
decided in order on what the ones before it left."""

import pytest

from contracts.events.payouts import PayoutRequestedData
from ledger import domain
from ledger.domain import reservations
from ledger.domain import DebtAmounts, Deduction
from ledger.domain import StoredDebt
from ledger.domain.reservations import Book, Moved, Refused, Reserved, Step, StoredReservation, Waits

THRESHOLD = 5000


def book(available: dict[str, int], debts: tuple[StoredDebt, ...] = (),
         stored: tuple[StoredReservation, ...] = ()) -> Book:
    """Creators with `available` in EUR (and the debt account their `debts` add up to)."""
    sums: dict[str, int] = {}
    for creator, amount in available.items():
        sums[f"creator:{creator}:available"] = -amount
    for debt in debts:
        account = f"creator:{debt.creator_id}:debt"
        sums[account] = sums.get(account, 0) + debt.amounts.remaining_minor
    return Book(sums={"EUR": sums}, debts={d.debt_id: d for d in debts}, reservations={r.payout_id: r for r in stored})


def debt(debt_id: str, creator: str, amount: int, remaining: int | None = None, *, undone: bool = False) -> StoredDebt:
    remaining = amount if remaining is None else remaining
    return StoredDebt(debt_id, creator, "EUR", DebtAmounts(amount, remaining), cause_undone=undone)


def request(payout_id: str, creator: str, amount: int | None, currency: str = "EUR") -> PayoutRequestedData:
    return PayoutRequestedData(payout_id=payout_id, creator_id=creator, currency=currency, amount_minor=amount,
                               minimum_minor=1000, requested_by=creator)


def reserved(payout_id: str, creator: str, gross: int, *deductions: Deduction,
             status: str = domain.RESERVATION_RESERVED) -> StoredReservation:
    return StoredReservation(payout_id, creator, "EUR", status, domain.Reservation(gross, deductions))


def test_a_second_request_of_a_creator_is_decided_on_what_the_first_reserved() -> None:
    run = book({"c1": 8500, "c2": 3000})
    first, elsewhere, second = reservations.decide_requests(
        [request("po1", "c1", 6000), request("po2", "c2", 3000), request("po3", "c1", 3000)], run, THRESHOLD)
    assert isinstance(first, Reserved)
    assert (first.balance.available_minor, first.balance.reserved_minor) == (2500, 6000)
    assert isinstance(elsewhere, Reserved) and elsewhere.balance.available_minor == 0
    assert isinstance(second, Refused) and second.refusal.reason == domain.INSUFFICIENT_AVAILABLE
    assert second.balance.available_minor == 2500
    assert run.reservations["po3"].status == domain.RESERVATION_REFUSED
    assert run.changed_reservations == {"po1", "po2", "po3"}


def test_debts_are_deducted_oldest_first_across_the_requests_of_a_run() -> None:
    run = book({"c1": 8500}, debts=(debt("old", "c1", 1500), debt("new", "c1", 2000)))
    first, second = reservations.decide_requests([request("po1", "c1", 1000), request("po2", "c1", 4000)], run,
                                                 THRESHOLD)
    assert first.reservation.deductions == (Deduction("old", 1000),)
    assert second.reservation.deductions == (Deduction("old", 500), Deduction("new", 2000))
    assert [(d.debt_id, after.amounts.remaining_minor) for d, after in second.deducted] == [("old", 0), ("new", 0)]
    assert run.debts["old"].amounts.status == domain.DEBT_SETTLED
    assert second.balance.debt_minor == 0 and second.balance.reserved_minor == (1000 - 1000) + (4000 - 2500)


def test_a_payout_already_decided_before_or_earlier_in_the_run_is_decided_once() -> None:
    run = book({"c1": 8500}, stored=(reserved("po_before", "c1", 1000),))
    outcomes = reservations.decide_requests(
        [request("po_before", "c1", 1000), request("po1", "c1", 2000), request("po1", "c1", 2000)], run, THRESHOLD)
    assert outcomes[0] is None and isinstance(outcomes[1], Reserved) and outcomes[2] is None
    assert run.balance("c1", "EUR").available_minor == 6500


def test_a_request_in_a_currency_the_creator_has_no_balance_in_is_refused() -> None:
    [refused] = reservations.decide_requests([request("po1", "c1", 2000, currency="USD")], book({"c1": 8500}),
                                             THRESHOLD)
    assert refused.refusal.reason == domain.CURRENCY_MISMATCH
    assert (refused.balance.currency, refused.balance.available_minor) == ("USD", 0)


def test_a_release_gives_the_gross_back_and_the_deductions_to_their_debts_once() -> None:
    owed = debt("d1", "c1", 3000, remaining=0)
    run = book({"c1": 500}, debts=(owed,), stored=(
        reserved("po1", "c1", 2000, Deduction("d1", 2000)), reserved("po2", "c1", 3000, Deduction("d1", 1000)),
    ))
    outcomes = reservations.decide_steps(
        reservations.RELEASE, [Step("po1", "c1"), Step("po2", "c1"), Step("po1", "c1")], run)
    assert [o.kind if o else None for o in outcomes] == [reservations.PAYOUT_RELEASED] * 2 + [None]
    assert run.debts["d1"].amounts == DebtAmounts(3000, 3000)  # both deductions owed again
    assert outcomes[1].balance.available_minor == 500 + 2000 + 3000
    assert run.reservations["po1"].status == domain.RESERVATION_RELEASED


def test_a_deduction_from_a_debt_whose_refund_failed_is_cancelled_not_owed_again() -> None:
    run = book({"c1": 0}, debts=(debt("d1", "c1", 3000, remaining=1000, undone=True),),
               stored=(reserved("po1", "c1", 5000, Deduction("d1", 2000)),))
    [failed] = reservations.decide_steps(reservations.FAIL, [Step("po1", "c1")], run)
    assert run.debts["d1"].amounts == DebtAmounts(3000, 1000, reversed_minor=2000)
    assert {p.account: p.amount_minor for p in failed.postings} == {
        "creator:c1:available": -3000, "creator:c1:reserved": 3000,
    }
    assert run.reservations["po1"].status == domain.RESERVATION_FAILED


def test_steps_read_before_what_they_build_on_wait() -> None:
    run = book({"c1": 0}, stored=(reserved("po1", "c1", 2000),))
    assert reservations.decide_steps(reservations.PAY, [Step("po_unknown", "c1")], run) == [
        Waits(reservations.PAYOUT_RESERVED)]
    assert reservations.decide_steps(reservations.FAIL, [Step("po1", "c1", was_paid=True)], run) == [
        Waits(reservations.PAYOUT_PAID)]
    assert run.changed_reservations == set()


def test_a_payout_paid_wholly_to_debt_moves_nothing_and_a_later_failure_gives_it_back() -> None:
    run = book({"c1": 0}, debts=(debt("d1", "c1", 3000, remaining=1000),),
               stored=(reserved("po1", "c1", 2000, Deduction("d1", 2000)),))
    [settled] = reservations.decide_steps(reservations.PAY, [Step("po1", "c1")], run)
    assert settled == Moved(reservations.PAYOUT_PAID, None, run.balance("c1", "EUR"))
    [failed, again] = reservations.decide_steps(reservations.FAIL, [Step("po1", "c1", True), Step("po1", "c1", True)],
                                                run)
    assert failed.kind == reservations.PAYOUT_FAILED_AFTER_PAID and again is None
    assert failed.balance.available_minor == 2000 and run.debts["d1"].amounts == DebtAmounts(3000, 3000)


def test_stale_steps_change_nothing() -> None:
    run = book({"c1": 0}, stored=(reserved("po_refused", "c1", 0, status=domain.RESERVATION_REFUSED),
                                  reserved("po_paid", "c1", 2000, status=domain.RESERVATION_PAID)))
    assert reservations.decide_steps(reservations.RELEASE, [Step("po_refused", "c1"), Step("po_paid", "c1")],
                                     run) == [None, None]
    assert reservations.decide_steps(reservations.PAY, [Step("po_paid", "c1")], run) == [None]
    assert run.changed_reservations == set()


def test_a_step_naming_another_creator_than_its_payouts_is_refused() -> None:
    run = book({"c1": 0}, stored=(reserved("po1", "c1", 2000),))
    with pytest.raises(domain.InvalidAmounts, match="payout po1 is c1's, not c2's"):
        reservations.decide_steps(reservations.PAY, [Step("po1", "c2")], run)
