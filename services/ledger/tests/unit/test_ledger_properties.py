"""The ledger's rules under random histories, with no I/O.

A generator plays payments' part: payments, fees, partial refunds (some failing
later), one dispute per payment (funds withdrawn, maybe reinstated, won or
lost). The events then arrive in any order and some twice; an in-memory ledger
applies them through the domain functions the way the handlers do (dedupe by
cause id and by (kind, reference); each refund or dispute posts the difference
of ledger.domain.entitlement over the payment's totals; an event whose entry is not
posted yet waits, as the consumer's parking makes it). The creator ends with
share - floor(share * taken / price) per payment, whatever the order. Payouts play their part too: requests (an amount
or all available, reserved with open debt deducted, or refused), then a reject,
cancel, payment, failure, or a failure after payment; their decisions may be read
before the request, as they are on other topics. Payouts empty `available`, so
refunds and disputes meet a shortfall and create debt, which later payouts deduct.
"""

from collections import defaultdict
from dataclasses import dataclass
from itertools import count

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import domain
from ledger.domain import entitlement
from ledger.domain import Posting
from ledger.domain.invariants import Audit, DebtRecord, EntryRecord, ReservationRecord

CREATOR = "c1"
THRESHOLD = 30_000  # high enough that many histories deduct debt rather than refuse


@dataclass(frozen=True)
class Ev:
    """One event as payments or payouts would emit it."""

    cause: str
    type: str
    currency: str
    payment_id: str = ""
    object_id: str = ""  # refund, dispute or payout id
    amount: int = 0  # price, refund, disputed amount or fee; a payout's requested gross (0: all available)
    creator_amount: int = 0  # share, clawback or frozen share
    fee: int = 0  # a payout request: the minimum
    outcome: str = ""
    was_paid: bool = False  # payout.failed after payout.paid


def given_back(share: int, taken: int, price: int) -> int:
    """What the creator has given back after `taken` of `price` was refunded or disputed."""
    return share * taken // price


@dataclass
class PaymentState:
    payment_id: str
    price: int
    share: int
    currency: str
    taken: int = 0  # refunded (standing) + disputed
    disputed: bool = False
    refunds: list[tuple[str, int, int]] | None = None  # standing (refund id, amount, clawback)


@st.composite
def histories(draw) -> tuple[list[Ev], dict[str, int]]:
    """Events in their real order, and each currency's expected creator total."""
    events: list[Ev] = []
    payments: list[PaymentState] = []
    ids = count(1)

    def new_id() -> str:
        return f"id{next(ids)}"

    for _ in range(draw(st.integers(1, 25))):
        action = draw(st.sampled_from(["pay", "pay", "fee", "refund", "refund", "fail", "dispute", "payout", "payout"]))
        open_payments = [p for p in payments if not p.disputed and p.taken < p.price]
        if action == "pay" or not payments:
            price = draw(st.integers(1, 100_000))
            currency = draw(st.sampled_from(["EUR", "USD"]))
            share = -(-price * 8500 // 10000)
            payment = PaymentState(new_id(), price, share, currency, refunds=[])
            payments.append(payment)
            events.append(Ev(new_id(), "payment", currency, payment.payment_id, amount=price, creator_amount=share))
        elif action == "fee":
            payment = draw(st.sampled_from(payments))
            events.append(Ev(new_id(), "fee", payment.currency, payment.payment_id, amount=draw(st.integers(0, 500))))
        elif action == "refund" and open_payments:
            payment = draw(st.sampled_from(open_payments))
            amount = draw(st.integers(1, payment.price - payment.taken))
            clawback = given_back(payment.share, payment.taken + amount, payment.price) - given_back(
                payment.share, payment.taken, payment.price
            )
            payment.taken += amount
            refund_id = new_id()
            payment.refunds.append((refund_id, amount, clawback))
            events.append(Ev(new_id(), "refund", payment.currency, payment.payment_id, refund_id, amount, clawback))
        elif action == "fail" and any(p.refunds for p in payments):
            payment = draw(st.sampled_from([p for p in payments if p.refunds]))
            refund_id, amount, clawback = payment.refunds.pop(draw(st.integers(0, len(payment.refunds) - 1)))
            payment.taken -= amount
            events.append(Ev(new_id(), "refund_failed", payment.currency, payment.payment_id, refund_id, amount, clawback))
        elif action == "dispute" and open_payments:
            payment = draw(st.sampled_from(open_payments))
            payment.disputed = True  # Stripe refuses refunds of a disputed charge; one dispute per charge
            amount = draw(st.integers(1, payment.price - payment.taken))
            frozen = given_back(payment.share, payment.taken + amount, payment.price) - given_back(
                payment.share, payment.taken, payment.price
            )
            dispute_id, cur = new_id(), payment.currency
            fee = draw(st.sampled_from([1500, 2000, 2500]))
            events.append(Ev(new_id(), "dispute_opened", cur, payment.payment_id, dispute_id, amount, frozen))
            events.append(Ev(new_id(), "funds_withdrawn", cur, payment.payment_id, dispute_id, amount, fee=fee))
            outcome = draw(st.sampled_from(["won", "lost"]))
            if outcome == "won":
                events.append(Ev(new_id(), "funds_reinstated", cur, payment.payment_id, dispute_id, amount, fee=fee))
            else:
                payment.taken += amount
            events.append(
                Ev(new_id(), "dispute_closed", cur, payment.payment_id, dispute_id, amount, frozen, outcome=outcome)
            )
        elif action == "payout":
            # mostly in a currency the creator earned in, mostly "all available"
            currency = draw(st.sampled_from([p.currency for p in payments] + ["EUR", "USD"]))
            payout_id = new_id()
            requested = draw(st.sampled_from([0, 0, 0]) | st.integers(1, 100_000))
            minimum = draw(st.sampled_from([0, 1000]))
            events.append(Ev(new_id(), "payout_requested", currency, object_id=payout_id, amount=requested, fee=minimum))
            # Payouts follows the ledger's answer; if the request is refused in this
            # order, what follows finds the refusal and changes nothing.
            outcome = draw(st.sampled_from(["pending", "rejected", "canceled", "failed", "paid", "paid_then_failed"]))
            if outcome in ("rejected", "canceled", "failed"):
                events.append(Ev(new_id(), f"payout_{outcome}", currency, object_id=payout_id))
            elif outcome != "pending":
                events.append(Ev(new_id(), "payout_paid", currency, object_id=payout_id))
                if outcome == "paid_then_failed":
                    events.append(Ev(new_id(), "payout_failed", currency, object_id=payout_id, was_paid=True))
    expected: dict[str, int] = defaultdict(int)
    for payment in payments:  # what is refunded (and not failed) or lost at the end
        expected[payment.currency] += payment.share - given_back(payment.share, payment.taken, payment.price)
    return events, dict(expected)


class InMemoryLedger:
    """The handlers' bookkeeping over a list instead of PostgreSQL."""

    def __init__(self) -> None:
        self.audit = Audit()
        self.causes: set[str] = set()
        self.by_reference: dict[tuple[str, str], list[Posting]] = {}
        self.sums: dict[tuple[str, str], int] = defaultdict(int)
        self.debts: dict[tuple[str, str], tuple[str, domain.DebtAmounts]] = {}  # in creation order
        self.reservations: dict[str, tuple[str, domain.Reservation | domain.Refusal, str]] = {}
        self.paid_out: dict[str, int] = defaultdict(int)
        self.terms: dict[str, tuple[int, int]] = {}  # payment id -> (price, share)
        self.takebacks: dict[str, tuple[str, entitlement.Takeback]] = {}  # reference -> (payment id, takeback)

    def totals(self, payment_id: str) -> entitlement.PaymentTotals:
        price, share = self.terms[payment_id]
        return entitlement.payment_totals(
            price, share, [t for pid, t in self.takebacks.values() if pid == payment_id]
        )

    def move(self, ev: Ev, kind: str, status: str) -> entitlement.EntitlementChange:
        """Record the refund or dispute as `status` and return the entitlement's change."""
        reference = f"{'refund' if kind == entitlement.REFUND else 'dispute'}:{ev.object_id}"
        before = self.totals(ev.payment_id)
        amount = self.takebacks[reference][1].amount_minor if reference in self.takebacks else ev.amount
        self.takebacks[reference] = (ev.payment_id, entitlement.Takeback(kind, status, amount))
        return entitlement.entitlement_change(before, self.totals(ev.payment_id))

    def status(self, reference: str) -> str | None:
        return self.takebacks[reference][1].status if reference in self.takebacks else None

    def balance(self, currency: str) -> domain.CreatorBalance:
        return domain.creator_balance(
            CREATOR, currency, {account: total for (account, cur), total in self.sums.items() if cur == currency}
        )

    def post(self, cause: str, kind: str, reference: str, postings: list[Posting]) -> bool:
        if cause in self.causes or (kind, reference) in self.by_reference:
            return False
        domain.check_balanced(postings)
        self.causes.add(cause)
        self.by_reference[(kind, reference)] = postings
        for p in postings:
            self.sums[(p.account, p.currency)] += p.amount_minor
        self.audit.add_entry(
            EntryRecord(f"{kind}:{reference}", cause, kind, tuple(postings), creator_id=CREATOR, reference=reference)
        )
        return True

    def post_taking(self, ev: Ev, kind: str, cause_type: str, postings: list[Posting]) -> None:
        if self.post(ev.cause, kind, f"{cause_type}:{ev.object_id}", postings):
            if shortfall := domain.debt_posted(CREATOR, postings):
                self.debts[(cause_type, ev.object_id)] = (ev.currency, domain.DebtAmounts(shortfall, shortfall))

    def apply(self, ev: Ev) -> bool:
        """False when the entry this event builds on is not posted yet."""
        cur = ev.currency
        available = self.balance(cur).available_minor
        match ev.type:
            case "payment":
                if self.post(ev.cause, "payment", f"payment:{ev.payment_id}",
                             domain.payment_postings(CREATOR, ev.amount, ev.creator_amount, cur)):
                    self.terms[ev.payment_id] = (ev.amount, ev.creator_amount)
            case "fee":
                self.post(ev.cause, "processing_fee", f"payment:{ev.payment_id}", domain.fee_postings(ev.amount, cur))
            case "refund":
                if ("payment", f"payment:{ev.payment_id}") not in self.by_reference:
                    return False
                if self.status(f"refund:{ev.object_id}") is None:
                    change = self.move(ev, entitlement.REFUND, entitlement.REFUNDED)
                    self.post_taking(ev, "refund", "refund", domain.refund_postings(
                        CREATOR, ev.amount, change.entitled_minor, change.frozen_minor, available, cur))
            case "refund_failed":
                if ("refund", f"refund:{ev.object_id}") not in self.by_reference:
                    return False
                if self.status(f"refund:{ev.object_id}") == entitlement.REFUNDED:
                    change = self.move(ev, entitlement.REFUND, entitlement.REFUND_FAILED)
                    debt = self.debts.get(("refund", ev.object_id))
                    reversal = domain.refund_reversal_postings(
                        CREATOR, ev.amount, change.entitled_minor, change.frozen_minor,
                        debt[1].remaining_minor if debt else 0, cur)
                    if self.post(ev.cause, "refund_reversal", f"refund:{ev.object_id}", reversal) and debt:
                        cancelled = -domain.debt_posted(CREATOR, reversal)
                        self.debts[("refund", ev.object_id)] = (debt[0], debt[1].reversed(cancelled))
            case "dispute_opened":
                if ("payment", f"payment:{ev.payment_id}") not in self.by_reference:
                    return False
                if self.status(f"dispute:{ev.object_id}") is None:
                    change = self.move(ev, entitlement.DISPUTE, entitlement.DISPUTE_OPEN)
                    self.post_taking(ev, "dispute_opened", "dispute", domain.dispute_opened_postings(
                        CREATOR, change.entitled_minor, change.frozen_minor, available, cur))
            case "funds_withdrawn":
                self.post(ev.cause, "dispute_funds_withdrawn", f"balance_transaction:{ev.cause}",
                          domain.dispute_funds_withdrawn_postings(ev.amount, ev.fee, cur))
            case "funds_reinstated":
                self.post(ev.cause, "dispute_funds_reinstated", f"balance_transaction:{ev.cause}",
                          domain.dispute_funds_reinstated_postings(ev.amount, ev.fee, cur))
            case "dispute_closed":
                if ("dispute_opened", f"dispute:{ev.object_id}") not in self.by_reference:
                    return False
                if self.status(f"dispute:{ev.object_id}") == entitlement.DISPUTE_OPEN:
                    won = ev.outcome == "won"
                    change = self.move(ev, entitlement.DISPUTE, entitlement.DISPUTE_WON if won else entitlement.DISPUTE_LOST)
                    postings = (
                        domain.dispute_won_postings(CREATOR, change.entitled_minor, change.frozen_minor, cur)
                        if won
                        else domain.dispute_lost_postings(
                            CREATOR, ev.amount, change.entitled_minor, change.frozen_minor, cur)
                    )
                    self.post(ev.cause, "dispute_closed", f"dispute:{ev.object_id}", postings)
            case "payout_requested":
                self.request_payout(ev, available)
            case "payout_rejected" | "payout_canceled" | "payout_failed" | "payout_paid":
                return self.payout_step(ev)
        return True

    def request_payout(self, ev: Ev, available: int) -> None:
        if ev.object_id in self.reservations:
            return
        cur = ev.currency
        open_debts = [
            domain.OpenDebt(f"{cause_type}:{cause_id}", amounts.remaining_minor)
            for (cause_type, cause_id), (currency, amounts) in self.debts.items()
            if currency == cur and amounts.status in (domain.DEBT_OPEN, domain.DEBT_PARTIALLY_DEDUCTED)
        ]
        known = any(c == cur and account.startswith(f"creator:{CREATOR}:") for account, c in self.sums)
        decision = domain.reserve(available, open_debts, ev.amount or None, ev.fee, THRESHOLD, known)
        if isinstance(decision, domain.Refusal):
            self.reservations[ev.object_id] = (cur, decision, domain.RESERVATION_REFUSED)
            return
        self.post(ev.cause, "payout_reserved", f"payout:{ev.object_id}",
                  domain.payout_reserved_postings(CREATOR, decision.gross_minor, decision.debt_deducted_minor, cur))
        for deduction in decision.deductions:
            key = tuple(deduction.debt_id.split(":"))
            currency, amounts = self.debts[key]
            self.debts[key] = (currency, amounts.deduct(deduction.amount_minor))
        self.reservations[ev.object_id] = (cur, decision, domain.RESERVATION_RESERVED)

    def restore_debts(self, reservation: domain.Reservation) -> int:
        undone = 0
        for deduction in reservation.deductions:
            cause_type, cause_id = key = tuple(deduction.debt_id.split(":"))
            cause_undone = cause_type == "refund" and ("refund_reversal", f"refund:{cause_id}") in self.by_reference
            currency, amounts = self.debts[key]
            self.debts[key] = (currency, amounts.restore(deduction.amount_minor, cause_undone=cause_undone))
            undone += deduction.amount_minor if cause_undone else 0
        return undone

    def payout_step(self, ev: Ev) -> bool:
        """As the handlers: wait for the request's answer (and a failure after
        payment for the payment); a refused or moved-on reservation ignores it."""
        if ev.object_id not in self.reservations:
            return False
        cur, reservation, status = self.reservations[ev.object_id]
        if ev.type == "payout_failed" and ev.was_paid and status == domain.RESERVATION_RESERVED:
            return False
        reference = f"payout:{ev.object_id}"
        if status == domain.RESERVATION_RESERVED and ev.type == "payout_paid":
            if reservation.net_minor:
                self.post(ev.cause, "payout_paid", reference,
                          domain.payout_paid_postings(CREATOR, reservation.net_minor, cur))
            self.paid_out[cur] += reservation.net_minor
            self.reservations[ev.object_id] = (cur, reservation, domain.RESERVATION_PAID)
        elif status == domain.RESERVATION_RESERVED:
            undone = self.restore_debts(reservation)
            self.post(ev.cause, "payout_released", reference, domain.payout_released_postings(
                CREATOR, reservation.gross_minor, reservation.debt_deducted_minor, undone, cur))
            final = domain.RESERVATION_FAILED if ev.type == "payout_failed" else domain.RESERVATION_RELEASED
            self.reservations[ev.object_id] = (cur, reservation, final)
        elif status == domain.RESERVATION_PAID and ev.type == "payout_failed":
            undone = self.restore_debts(reservation)
            self.post(ev.cause, "payout_failed_after_paid", reference, domain.payout_failed_after_paid_postings(
                CREATOR, reservation.gross_minor, reservation.debt_deducted_minor, undone, cur))
            self.paid_out[cur] -= reservation.net_minor
            self.reservations[ev.object_id] = (cur, reservation, domain.RESERVATION_FAILED)
        return True


@settings(max_examples=300, deadline=None)
@given(history=histories(), data=st.data())
def test_any_order_with_duplicates_balances_never_overdraws_and_keeps_the_creator_whole(history, data) -> None:
    events, expected = history
    # In their real order half the time: payouts that drain available, then
    # refunds that run short, then payouts that deduct the debt.
    delivered = list(events) if data.draw(st.booleans()) else data.draw(st.permutations(events))
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=len(events))) if events else []
    for ev in duplicates:
        delivered.insert(data.draw(st.integers(0, len(delivered))), ev)

    ledger = InMemoryLedger()
    waiting = list(delivered)
    while waiting:  # parking: what waits on a missing entry comes round again
        still = [ev for ev in waiting if not ledger.apply(ev)]
        assert len(still) < len(waiting), f"stuck on {still}"
        waiting = still

    ledger.audit.check_debts(
        DebtRecord(f"{cause_type}:{cause_id}", CREATOR, currency, a.amount_minor, a.remaining_minor,
                   a.reversed_minor, a.status)
        for (cause_type, cause_id), (currency, a) in ledger.debts.items()
    )
    ledger.audit.check_reservations(
        ReservationRecord(payout_id, CREATOR, currency, r.gross_minor, r.debt_deducted_minor, r.net_minor, status)
        for payout_id, (currency, r, status) in ledger.reservations.items()
        if isinstance(r, domain.Reservation)
    )
    # Every entry balanced, no creator account ever negative, debts == the debt
    # account, RESERVED payouts == the reserved account.
    assert ledger.audit.problems == []
    assert sum(ledger.sums.values()) == 0
    for currency in ("EUR", "USD"):
        b = ledger.balance(currency)
        creator_total = (
            b.available_minor + b.disputed_minor + b.reserved_minor - b.debt_minor + ledger.paid_out[currency]
        )
        assert creator_total == expected.get(currency, 0)


@settings(max_examples=200, deadline=None)
@given(price=st.integers(1, 10**7), cuts=st.lists(st.integers(1, 10**6), min_size=1, max_size=12))
def test_partial_refunds_adding_up_to_the_price_claw_back_exactly_the_share(price: int, cuts: list[int]) -> None:
    share = -(-price * 8500 // 10000)
    ledger = InMemoryLedger()
    ledger.apply(Ev("pay", "payment", "EUR", "p1", amount=price, creator_amount=share))
    taken = 0
    for i, cut in enumerate(cuts):
        amount = price - taken if i == len(cuts) - 1 else min(cut, price - taken)
        if amount == 0:
            continue
        clawback = given_back(share, taken + amount, price) - given_back(share, taken, price)
        taken += amount
        assert ledger.apply(Ev(f"r{i}", "refund", "EUR", "p1", f"r{i}", amount, clawback))
    b = ledger.balance("EUR")
    assert (b.available_minor, b.debt_minor) == (0, 0)
    assert ledger.audit.problems == []


@given(cancel_before_failure=st.booleans(), outcome=st.sampled_from(["payout_canceled", "paid_then_failed"]))
def test_a_refund_failing_after_its_debt_was_deducted_leaves_no_debt_whichever_way_the_payout_goes(
    cancel_before_failure: bool, outcome: str
) -> None:
    ledger = InMemoryLedger()
    history = [
        Ev("e1", "payment", "EUR", "p1", amount=10000, creator_amount=8500),
        Ev("e2", "payout_requested", "EUR", object_id="po1", fee=1000),  # all 85.00
        Ev("e3", "payout_paid", "EUR", object_id="po1"),
        Ev("e4", "refund", "EUR", "p1", "r1", 4000, 3400),  # 34.00 of debt
        Ev("e5", "payment", "EUR", "p2", amount=10000, creator_amount=8500),
        Ev("e6", "payout_requested", "EUR", object_id="po2", amount=5000, fee=1000),  # 34.00 deducted, net 16.00
    ]
    undo = [Ev("e7", "refund_failed", "EUR", "p1", "r1", 4000, 3400)]
    if outcome == "payout_canceled":
        release = [Ev("e8", "payout_canceled", "EUR", object_id="po2")]
    else:
        release = [Ev("e8", "payout_paid", "EUR", object_id="po2"),
                   Ev("e9", "payout_failed", "EUR", object_id="po2", was_paid=True)]
    for ev in history + (release + undo if cancel_before_failure else undo + release):
        assert ledger.apply(ev)
    _, debt = ledger.debts[("refund", "r1")]
    assert (debt.remaining_minor, debt.status) == (0, domain.DEBT_REVERSED)
    b = ledger.balance("EUR")
    # 85.00 paid out, the second 85.00 back in available; the refund never happened
    assert (b.available_minor, b.reserved_minor, b.debt_minor, ledger.paid_out["EUR"]) == (8500, 0, 0, 8500)
    ledger.audit.check_debts(
        [DebtRecord("r1", CREATOR, "EUR", debt.amount_minor, debt.remaining_minor, debt.reversed_minor, debt.status)]
    )
    assert ledger.audit.problems == []
