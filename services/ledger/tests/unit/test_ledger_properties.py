"""The ledger's rules under random histories, with no I/O.

A generator plays payments' part: payments, fees, partial refunds (some failing
later), one dispute per payment (funds withdrawn, maybe reinstated, won or
lost), with creator amounts from the cumulative rule floor(s * t / p). The
events then arrive in any order and some twice; an in-memory ledger applies
them through the domain functions the way the handlers do (dedupe by cause id
and by (kind, reference); an event whose entry is not posted yet waits, as the
consumer's retries make it). Payouts are the payouts issue: here a "drain"
takes what `available` holds at that moment (into `reserved`, or paid out), so
refunds and disputes meet an empty `available` and must create debt.
"""

from collections import defaultdict
from dataclasses import dataclass
from itertools import count

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import domain
from ledger.domain import Posting
from ledger.invariants import Audit, DebtRecord, EntryRecord

CREATOR = "c1"
AVAILABLE = domain.creator_account(CREATOR, "available")
RESERVED = domain.creator_account(CREATOR, "reserved")


@dataclass(frozen=True)
class Ev:
    """One event as payments (or, for drains, a payout) would emit it."""

    cause: str
    type: str
    currency: str
    payment_id: str = ""
    object_id: str = ""  # refund or dispute id
    amount: int = 0  # price, refund, disputed amount or fee; wanted amount for a drain
    creator_amount: int = 0  # share, clawback or frozen share
    fee: int = 0
    outcome: str = ""
    paid_out: bool = False


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
    expected: dict[str, int] = defaultdict(int)
    ids = count(1)

    def new_id() -> str:
        return f"id{next(ids)}"

    for _ in range(draw(st.integers(1, 25))):
        action = draw(st.sampled_from(["pay", "pay", "fee", "refund", "refund", "fail", "dispute", "drain"]))
        open_payments = [p for p in payments if not p.disputed and p.taken < p.price]
        if action == "pay" or not payments:
            price = draw(st.integers(1, 100_000))
            currency = draw(st.sampled_from(["EUR", "USD"]))
            share = -(-price * 8500 // 10000)
            payment = PaymentState(new_id(), price, share, currency, refunds=[])
            payments.append(payment)
            events.append(Ev(new_id(), "payment", currency, payment.payment_id, amount=price, creator_amount=share))
            expected[currency] += share
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
            expected[payment.currency] -= clawback
        elif action == "fail" and any(p.refunds for p in payments):
            payment = draw(st.sampled_from([p for p in payments if p.refunds]))
            refund_id, amount, clawback = payment.refunds.pop(draw(st.integers(0, len(payment.refunds) - 1)))
            payment.taken -= amount
            events.append(Ev(new_id(), "refund_failed", payment.currency, payment.payment_id, refund_id, amount, clawback))
            expected[payment.currency] += clawback
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
                expected[cur] -= frozen
            events.append(
                Ev(new_id(), "dispute_closed", cur, payment.payment_id, dispute_id, amount, frozen, outcome=outcome)
            )
        elif action == "drain":
            currency = draw(st.sampled_from(["EUR", "USD"]))
            events.append(Ev(new_id(), "drain", currency, amount=draw(st.integers(1, 200_000)), paid_out=draw(st.booleans())))
    return events, dict(expected)


class InMemoryLedger:
    """The handlers' bookkeeping over a list instead of PostgreSQL."""

    def __init__(self) -> None:
        self.audit = Audit()
        self.causes: set[str] = set()
        self.by_reference: dict[tuple[str, str], list[Posting]] = {}
        self.sums: dict[tuple[str, str], int] = defaultdict(int)
        self.debts: dict[tuple[str, str], tuple[str, domain.DebtAmounts]] = {}
        self.paid_out: dict[str, int] = defaultdict(int)

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
        self.audit.add_entry(EntryRecord(f"{kind}:{reference}", cause, kind, tuple(postings)))
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
                self.post(ev.cause, "payment", f"payment:{ev.payment_id}",
                          domain.payment_postings(CREATOR, ev.amount, ev.creator_amount, cur))
            case "fee":
                self.post(ev.cause, "processing_fee", f"payment:{ev.payment_id}", domain.fee_postings(ev.amount, cur))
            case "refund":
                if ("payment", f"payment:{ev.payment_id}") not in self.by_reference:
                    return False
                self.post_taking(ev, "refund", "refund",
                                 domain.refund_postings(CREATOR, ev.amount, ev.creator_amount, available, cur))
            case "refund_failed":
                refund = self.by_reference.get(("refund", f"refund:{ev.object_id}"))
                if refund is None:
                    return False
                debt = self.debts.get(("refund", ev.object_id))
                deducted = debt[1].deducted_minor if debt else 0
                reversal = domain.refund_reversal_postings(CREATOR, refund, deducted)
                if self.post(ev.cause, "refund_reversal", f"refund:{ev.object_id}", reversal) and debt:
                    self.debts[("refund", ev.object_id)] = (debt[0], debt[1].reversed())
            case "dispute_opened":
                if ("payment", f"payment:{ev.payment_id}") not in self.by_reference:
                    return False
                self.post_taking(ev, "dispute_opened", "dispute",
                                 domain.dispute_opened_postings(CREATOR, ev.creator_amount, available, cur))
            case "funds_withdrawn":
                self.post(ev.cause, "dispute_funds_withdrawn", f"dispute:{ev.object_id}",
                          domain.dispute_funds_withdrawn_postings(ev.amount, ev.fee, cur))
            case "funds_reinstated":
                self.post(ev.cause, "dispute_funds_reinstated", f"dispute:{ev.object_id}",
                          domain.dispute_funds_reinstated_postings(ev.amount, ev.fee, cur))
            case "dispute_closed":
                opened = self.by_reference.get(("dispute_opened", f"dispute:{ev.object_id}"))
                if opened is None:
                    return False
                frozen = -sum(p.amount_minor for p in opened if p.account.endswith(":disputed"))
                postings = (
                    domain.dispute_won_postings(CREATOR, frozen, cur)
                    if ev.outcome == "won"
                    else domain.dispute_lost_postings(CREATOR, ev.amount, frozen, cur)
                )
                self.post(ev.cause, "dispute_closed", f"dispute:{ev.object_id}", postings)
            case "drain":
                # Stands in for payouts: takes what available holds now, never more.
                taken = min(ev.amount, max(available, 0))
                target = domain.STRIPE_BALANCE if ev.paid_out else RESERVED
                if self.post(ev.cause, "drain", f"drain:{ev.cause}",
                             [Posting(AVAILABLE, taken, cur), Posting(target, -taken, cur)]) and ev.paid_out:
                    self.paid_out[cur] += taken
        return True


@settings(max_examples=300, deadline=None)
@given(history=histories(), data=st.data())
def test_any_order_with_duplicates_balances_never_overdraws_and_keeps_the_creator_whole(history, data) -> None:
    events, expected = history
    delivered = data.draw(st.permutations(events))
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=len(events))) if events else []
    for ev in duplicates:
        delivered.insert(data.draw(st.integers(0, len(delivered))), ev)

    ledger = InMemoryLedger()
    waiting = list(delivered)
    while waiting:  # the consumer's retries: what waits on a missing entry comes round again
        still = [ev for ev in waiting if not ledger.apply(ev)]
        assert len(still) < len(waiting), f"stuck on {still}"
        waiting = still

    ledger.audit.check_debts(
        DebtRecord(f"{cause_type}:{cause_id}", CREATOR, currency, a.amount_minor, a.remaining_minor,
                   a.reversed_minor, a.status)
        for (cause_type, cause_id), (currency, a) in ledger.debts.items()
    )
    # Every entry balanced, no creator account ever negative, debts == the debt account.
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
