"""Disputes' pure rules: how a dispute moves through Stripe's statuses, what is
frozen from the creator, and which of our events each Stripe event implies.
No I/O here.

Every `charge.dispute.*` event carries the whole Dispute object, so each one is
applied as a *snapshot* of the dispute, whatever its type. Stripe sends them at
least once and in any order, so:

* The status, reason and evidence due date come from the newest snapshot (by
  the Stripe event's `created` second; within one second the later stage wins).
  A closed status is final: nothing reopens a closed dispute.
* Balance transactions only accumulate: each one is booked exactly once, by id,
  whichever snapshot shows it first.
* What we announce always comes out in the lifecycle order the ledger expects:
  DisputeCreated, then the funds movements, then DisputeUpdated, then
  DisputeClosed, each at most once (DisputeUpdated once per change we saw).
  So a `closed` event arriving first announces the creation, the withdrawal
  its balance transactions show, and the outcome, in that order, and the
  `created` / `updated` / `funds_withdrawn` events arriving after it change
  nothing. The money events (created, funds, closed) are the same whatever the
  order; a DisputeUpdated is only announced for a change we saw before the
  dispute closed, since what a stale event says is no longer news.

Inquiries (`warning_needs_response`, `warning_under_review`) move no money:
nothing is frozen or announced for them until they escalate to a chargeback
(any other status, or funds withdrawn). An inquiry closed as `warning_closed`,
or a dispute `prevented` before it became a chargeback (e.g. Visa RDR, which
refunds the fan instead: that arrives as a refund), closes with no outcome and
no event. Should such a status ever close a dispute we did announce, the frozen
share goes back to the creator: it is announced as `won`, the one outcome that
returns it. Stripe reports an accepted dispute as `lost`.
"""

from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from payments.domain.clawback import clawback
from payments.domain.fees import exchange_rate
from payments.domain.payments import PaymentError

INQUIRY = frozenset({"warning_needs_response", "warning_under_review"})
CLOSED_WITHOUT_OUTCOME = frozenset({"warning_closed", "prevented"})
OUTCOMES: Mapping[str, Literal["won", "lost"]] = {"won": "won", "lost": "lost"}
CLOSED = CLOSED_WITHOUT_OUTCOME | OUTCOMES.keys()

# Orders two snapshots stamped with the same Stripe second. A status Stripe adds
# later (e.g. an appeal) ranks with the open chargeback stages.
_STAGE = {"warning_needs_response": 0, "warning_under_review": 1, "needs_response": 2, "under_review": 3}
_OPEN_UNKNOWN_STAGE = 3
_CLOSED_STAGE = 4

Outcome = Literal["won", "lost"]
EmitKind = Literal["created", "funds_withdrawn", "funds_reinstated", "updated", "closed"]


class DisputeError(PaymentError):
    """Base of the dispute rules' errors: each means Stripe's data and ours cannot
    both be right, so retrying never helps."""


class MalformedDispute(DisputeError):
    pass


class UnbookableBalanceTransaction(DisputeError):
    pass


@dataclass(frozen=True)
class BalanceTransaction:
    id: str
    amount_minor: int  # signed, as Stripe: negative = taken from our balance
    fee_minor: int  # signed, as Stripe: positive = charged, negative = given back
    currency: str  # ISO 4217, upper case: our balance's currency, not necessarily the dispute's
    exchange_rate: str | None = None  # Stripe's, as a decimal string; None when nothing was converted

    @property
    def kind(self) -> Literal["funds_withdrawn", "funds_reinstated"] | None:
        """Which movement this is; None when it moves nothing (a zero transaction)."""
        if self.amount_minor < 0 or self.amount_minor == 0 and self.fee_minor > 0:
            if self.fee_minor < 0:
                raise UnbookableBalanceTransaction(f"{self.id}: a withdrawal giving a fee back")
            return "funds_withdrawn"
        if self.amount_minor > 0 or self.fee_minor < 0:
            if self.fee_minor > 0:
                raise UnbookableBalanceTransaction(f"{self.id}: a reinstatement charging a fee")
            return "funds_reinstated"
        return None

    @property
    def moved_minor(self) -> int:
        """The disputed money that left (or came back), never negative."""
        return abs(self.amount_minor)

    @property
    def fee_moved_minor(self) -> int:
        """The dispute fee charged (or given back), never negative."""
        return abs(self.fee_minor)

    def moved_in_dispute_currency(self, dispute_amount_minor: int, dispute_currency: str) -> int:
        """The disputed money this transaction moved, in the dispute's (the charge's)
        currency. Converted, it is the whole disputed amount: Stripe withdraws it
        all and gives it all back when the dispute is won; a counter fee moves none."""
        if self.currency == dispute_currency or self.moved_minor == 0:
            return self.moved_minor
        return dispute_amount_minor


@dataclass(frozen=True)
class Snapshot:
    """A Stripe Dispute object as one event carried it."""

    stripe_dispute_id: str
    amount_minor: int  # disputed, in the dispute's currency
    currency: str
    status: str
    reason: str | None
    evidence_due_by: datetime | None
    balance_transactions: tuple[BalanceTransaction, ...]
    observed_at: int  # the carrying Stripe event's `created`, Unix seconds


@dataclass(frozen=True)
class Dispute:
    stripe_dispute_id: str
    amount_minor: int
    currency: str
    status: str
    reason: str | None
    evidence_due_by: datetime | None
    observed_at: int  # `created` of the newest Stripe event seen, Unix seconds
    creator_share_minor: int | None = None  # frozen from the creator; None while nothing is (an inquiry)
    taken_back_minor: int = 0  # what this dispute added to the payment's taken-back total
    balance_transaction_ids: frozenset[str] = frozenset()
    closed: bool = False
    outcome: Outcome | None = None  # None while open, and for a close that moved no money

    @property
    def announced(self) -> bool:
        return self.creator_share_minor is not None


@dataclass(frozen=True)
class PaymentShare:
    """The payment a dispute is about, as the clawback needs it (minor units)."""

    price_minor: int
    creator_share_minor: int
    taken_back_minor: int  # succeeded refunds + disputed amounts not won


@dataclass(frozen=True)
class Emit:
    kind: EmitKind
    balance_transaction: BalanceTransaction | None = None  # for the funds kinds


@dataclass(frozen=True)
class Step:
    dispute: Dispute
    taken_back_minor: int  # the payment's new taken-back total
    emits: tuple[Emit, ...]


def apply(current: Dispute | None, seen: Snapshot, payment: PaymentShare) -> Step:
    """Apply one snapshot to what we know of the dispute (None: nothing yet)."""
    before = current or _from_snapshot(seen)
    dispute = _with_status(before, seen) if current is not None else before
    changed = current is not None and (dispute.status, dispute.evidence_due_by) != (
        current.status,
        current.evidence_due_by,
    )
    taken_back = payment.taken_back_minor
    emits: list[Emit] = []

    new_transactions = _unbooked(dispute, seen)
    money_at_stake = dispute.status not in INQUIRY | CLOSED_WITHOUT_OUTCOME or bool(new_transactions)
    if not dispute.announced and money_at_stake:
        if before.closed:
            raise UnbookableBalanceTransaction(
                f"dispute {dispute.stripe_dispute_id} closed without an outcome, yet Stripe moved money for it"
            )
        dispute, taken_back = _freeze_share(dispute, payment)
        emits.append(Emit("created"))

    for transaction in new_transactions:
        emits.append(Emit(transaction.kind, transaction))  # type: ignore[arg-type] - kind is not None here
    dispute = replace(
        dispute,
        balance_transaction_ids=dispute.balance_transaction_ids | {t.id for t in seen.balance_transactions},
    )

    closing = not before.closed and dispute.status in CLOSED
    if changed and before.announced and not closing:
        emits.append(Emit("updated"))
    if closing:
        dispute, taken_back = _close(dispute, taken_back)
        if dispute.announced:
            emits.append(Emit("closed"))
    return Step(dispute, taken_back, tuple(emits))


P = TypeVar("P", bound=Hashable)  # what tells a batch's payments apart


def apply_in_order(known: Mapping[str, Dispute], seen: Iterable[tuple[Snapshot, P, PaymentShare]]) -> Iterator[Step]:
    """A batch's decision: each snapshot (with its payment, and the payment as
    read before the batch) applied in delivery order to what the snapshots
    before it left of its dispute (`known`: the disputes stored, by Stripe id)
    and of its payment's taken-back total, so the same dispute twice, or a later
    stage first, ends as one by one. A snapshot the rules refuse raises at its
    place, after the steps before it."""
    disputes, taken_back = dict(known), {}
    for snapshot, payment, share in seen:
        share = replace(share, taken_back_minor=taken_back.get(payment, share.taken_back_minor))
        step = apply(disputes.get(snapshot.stripe_dispute_id), snapshot, share)
        disputes[snapshot.stripe_dispute_id], taken_back[payment] = step.dispute, step.taken_back_minor
        yield step


def _from_snapshot(seen: Snapshot) -> Dispute:
    return Dispute(
        stripe_dispute_id=seen.stripe_dispute_id,
        amount_minor=seen.amount_minor,
        currency=seen.currency,
        status=seen.status,
        reason=seen.reason,
        evidence_due_by=seen.evidence_due_by,
        observed_at=seen.observed_at,
    )


def _stage(status: str) -> int:
    if status in CLOSED:
        return _CLOSED_STAGE
    return _STAGE.get(status, _OPEN_UNKNOWN_STAGE)


def _with_status(current: Dispute, seen: Snapshot) -> Dispute:
    """The newer of the two views of the status; a closed dispute stays as it closed."""
    if current.closed:
        return replace(current, observed_at=max(seen.observed_at, current.observed_at))
    newer = seen.status in CLOSED or (seen.observed_at, _stage(seen.status)) >= (
        current.observed_at,
        _stage(current.status),
    )
    if not newer:
        return current
    return replace(
        current,
        status=seen.status,
        reason=seen.reason,
        evidence_due_by=seen.evidence_due_by,
        observed_at=max(seen.observed_at, current.observed_at),
    )


def _unbooked(dispute: Dispute, seen: Snapshot) -> list[BalanceTransaction]:
    """Balance transactions not booked yet that move money: withdrawals first."""
    fresh = [t for t in seen.balance_transactions if t.id not in dispute.balance_transaction_ids and t.kind]
    return sorted(fresh, key=lambda t: (t.kind != "funds_withdrawn", t.id))


def _freeze_share(dispute: Dispute, payment: PaymentShare) -> tuple[Dispute, int]:
    """The creator's share of the disputed amount, cumulative with refunds and
    other disputes. A payment never gives back more than its price, so the
    taken-back total is capped there (and this dispute remembers what it added)."""
    before = payment.taken_back_minor
    after = min(payment.price_minor, before + dispute.amount_minor)
    share = clawback(payment.creator_share_minor, payment.price_minor, before, after)
    return replace(dispute, creator_share_minor=share, taken_back_minor=after - before), after


def _close(dispute: Dispute, taken_back: int) -> tuple[Dispute, int]:
    outcome = OUTCOMES.get(dispute.status)
    if outcome is None and dispute.announced:
        outcome = "won"  # a close that moved no money: the frozen share goes back
    if outcome == "won":
        taken_back -= dispute.taken_back_minor
    return replace(dispute, closed=True, outcome=outcome), taken_back


def snapshot_from_stripe(obj: Mapping[str, Any], *, observed_at: int) -> Snapshot:
    """Read a Stripe Dispute object (a webhook's data.object)."""
    try:
        dispute_id, amount, currency, status = obj["id"], obj["amount"], obj["currency"], obj["status"]
        transactions = tuple(_balance_transaction(t) for t in obj.get("balance_transactions") or ())
    except (KeyError, TypeError) as error:
        raise MalformedDispute(f"not a Stripe dispute: missing or wrong {error}") from error
    if not isinstance(dispute_id, str) or not isinstance(status, str) or not isinstance(currency, str):
        raise MalformedDispute(f"dispute {dispute_id!r}: id, status and currency must be strings")
    if not _is_int(amount) or amount <= 0:
        raise MalformedDispute(f"dispute {dispute_id}: amount {amount!r} is not a positive integer")
    reason = obj.get("reason")
    due_by = (obj.get("evidence_details") or {}).get("due_by")
    return Snapshot(
        stripe_dispute_id=dispute_id,
        amount_minor=amount,
        currency=currency.upper(),
        status=status,
        reason=reason if isinstance(reason, str) else None,
        # Stripe sends 0 when the issuer allows no response at all.
        evidence_due_by=datetime.fromtimestamp(due_by, UTC) if _is_int(due_by) and due_by > 0 else None,
        balance_transactions=transactions,
        observed_at=observed_at,
    )


def _balance_transaction(obj: Mapping[str, Any]) -> BalanceTransaction:
    # The fee is Stripe's, read from the transaction: dispute fees differ by
    # region and changed over time, and a counter fee may be charged too.
    try:
        rate = exchange_rate(obj.get("exchange_rate"), obj["id"])
    except ValueError as error:
        raise MalformedDispute(str(error)) from error
    transaction = BalanceTransaction(
        id=obj["id"], amount_minor=obj["amount"], fee_minor=obj["fee"], currency=str(obj["currency"]).upper(),
        exchange_rate=rate,
    )
    if not isinstance(transaction.id, str) or not _is_int(transaction.amount_minor) or not _is_int(transaction.fee_minor):
        raise MalformedDispute(f"balance transaction {transaction.id!r}: id, amount or fee of the wrong type")
    details = obj.get("fee_details")
    if details and sum(d["amount"] for d in details) != transaction.fee_minor:
        raise MalformedDispute(f"balance transaction {transaction.id}: fee_details do not add up to the fee")
    return transaction


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
