"""Refunds' pure rules: what may be refunded, and how a refund moves through
Stripe's statuses. No I/O here; the clawback itself is `payments.domain.clawback`."""

import uuid
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, TypeVar

from payments.domain.clawback import clawback
from payments.domain.payments import PaymentError, PaymentStatus

# Stripe's `reason` values for a refund we create.
REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})


class RefundError(PaymentError):
    """Base of the refund rules' errors."""


class PaymentNotRefundable(RefundError):
    """The payment is in no state to be refunded (not succeeded, or nothing left)."""


class InvalidRefund(RefundError):
    """The requested amount, currency or reason is wrong for this payment."""


class TakesBackTooMuch(RefundError):
    """A succeeded refund would give the fan more than the payment's price."""


R = TypeVar("R", bound=Hashable)  # what tells a batch's refunds apart
P = TypeVar("P", bound=Hashable)  # what tells their payments apart


class RefundStatus(StrEnum):
    PENDING = "PENDING"
    REQUIRES_ACTION = "REQUIRES_ACTION"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


OPEN = frozenset({RefundStatus.PENDING, RefundStatus.REQUIRES_ACTION})


def from_stripe(status: object) -> RefundStatus | None:
    """Our status for a Stripe refund status; None for one we do not know (a
    status Stripe adds later is logged and waited out, never guessed)."""
    if not isinstance(status, str):
        return None
    try:
        return RefundStatus(status.upper())
    except ValueError:
        return None


# Stripe: pending <-> requires_action, either -> succeeded | failed | canceled,
# and a succeeded refund may still fail later (e.g. the card was closed).
# Failed and canceled are final. Anything else is a stale or duplicate event.
_TRANSITIONS: frozenset[tuple[RefundStatus, RefundStatus]] = frozenset(
    {
        (RefundStatus.PENDING, RefundStatus.REQUIRES_ACTION),
        (RefundStatus.REQUIRES_ACTION, RefundStatus.PENDING),
        *((source, target) for source in OPEN for target in (RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.CANCELED)),
        (RefundStatus.SUCCEEDED, RefundStatus.FAILED),
    }
)


def should_transition(current: RefundStatus, target: RefundStatus) -> bool:
    """True if a refund in `current` moves to `target`; False for a stale or
    duplicate transition, which the caller ignores."""
    return (current, target) in _TRANSITIONS


@dataclass(frozen=True)
class Totals:
    """A payment as its refunds move it (minor units)."""

    price_minor: int
    creator_share_minor: int
    taken_back_minor: int  # succeeded refunds + disputed amounts not won
    refunded_minor: int  # succeeded refunds


@dataclass(frozen=True)
class Refunding:
    """A refund as its moves need it (minor units)."""

    status: RefundStatus
    amount_minor: int
    creator_clawback_minor: int  # what it took from the creator when it succeeded (kept after a failure)
    failure_reason: str | None


@dataclass(frozen=True)
class Move:
    """A refund's move and what it does to its payment."""

    refund: Refunding  # after the move
    payment: Totals  # after the move
    announces: Literal["created", "failed"] | None
    was_succeeded: bool  # a failure after the refund succeeded: the creator gets `returned_minor` back
    returned_minor: int = 0


def move(refund: Refunding, payment: Totals, target: RefundStatus, failure_reason: str | None) -> Move | None:
    """Where Stripe's report that `refund` is now `target` takes it and its
    payment; None when the report is stale or a duplicate. Folded over a batch's
    reports in delivery order, each from what the one before left."""
    if not should_transition(refund.status, target):
        return None
    before = payment.taken_back_minor
    if target == RefundStatus.SUCCEEDED:
        after = before + refund.amount_minor
        if after > payment.price_minor:
            raise TakesBackTooMuch(f"would take back {after} of the price {payment.price_minor}")
        taken = clawback(payment.creator_share_minor, payment.price_minor, before, after)
        return Move(replace(refund, status=target, creator_clawback_minor=taken),
                    replace(payment, taken_back_minor=after, refunded_minor=payment.refunded_minor + refund.amount_minor),
                    "created", was_succeeded=False)
    if target in (RefundStatus.FAILED, RefundStatus.CANCELED):
        failed = replace(refund, status=target, failure_reason=failure_reason or target.lower())
        if refund.status != RefundStatus.SUCCEEDED:
            return Move(failed, payment, "failed", was_succeeded=False)
        # Give back what keeps the creator's total at floor(share * t / price):
        # the refund's own clawback, unless later movements shifted the rounding.
        after = before - refund.amount_minor
        returned = -clawback(payment.creator_share_minor, payment.price_minor, before, after)
        return Move(failed,
                    replace(payment, taken_back_minor=after, refunded_minor=payment.refunded_minor - refund.amount_minor),
                    "failed", was_succeeded=True, returned_minor=returned)
    return Move(replace(refund, status=target), payment, None, was_succeeded=False)


def moves_in_order(
    refunds: Mapping[R, Refunding], payments: Mapping[P, Totals],
    reports: Iterable[tuple[R, P, RefundStatus, str | None]],
) -> Iterator[Move | None]:
    """A batch's decision: each report (refund, its payment, Stripe's status, the
    failure reason) moved in delivery order from what the reports before it left
    of its refund and its payment, so the same report twice, or a later status
    before an earlier one, ends as one by one (None: stale or a duplicate). A
    refund that takes back too much raises at its place, after the moves before it."""
    refunds, payments = dict(refunds), dict(payments)
    for refund, payment, target, failure_reason in reports:
        moved = move(refunds[refund], payments[payment], target, failure_reason)
        if moved is not None:
            refunds[refund], payments[payment] = moved.refund, moved.payment
        yield moved


def refundable(*, price_minor: int, taken_back_minor: int, open_refunds_minor: int) -> int:
    """What may still be refunded: the price less what already went back to the
    fan (succeeded refunds and disputed amounts not won) and refunds under way."""
    return max(price_minor - taken_back_minor - open_refunds_minor, 0)


def check_refund(
    *,
    payment_status: str,
    payment_currency: str,
    refundable_minor: int,
    amount_minor: int | None,
    currency: str | None,
    reason: str | None,
) -> int:
    """The amount to refund (all that is left when `amount_minor` is None), or
    raise why this refund may not be made."""
    if payment_status != PaymentStatus.SUCCEEDED:
        raise PaymentNotRefundable(f"only a succeeded payment can be refunded; this one is {payment_status}")
    if currency is not None and currency.upper() != payment_currency:
        raise InvalidRefund(f"the payment is in {payment_currency}, not {currency.upper()}")
    if reason is not None and reason not in REASONS:
        raise InvalidRefund(f"reason must be one of {', '.join(sorted(REASONS))}, not {reason!r}")
    if amount_minor is None:
        if refundable_minor == 0:
            raise PaymentNotRefundable("nothing is left to refund on this payment")
        return refundable_minor
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor <= 0:
        raise InvalidRefund(f"a refund is a positive integer in minor units, not {amount_minor!r}")
    if amount_minor > refundable_minor:
        raise InvalidRefund(f"at most {refundable_minor} minor units of {payment_currency} are left to refund")
    return amount_minor


def refund_made_for(stripe_refunds: Iterable[Mapping[str, Any]], refund_id: uuid.UUID) -> Mapping[str, Any] | None:
    """The Stripe Refund our API created for `refund_id` (its metadata names it),
    among a charge's refunds; None if Stripe never made it. Stripe cannot be
    asked by idempotency key, so this is how a lost answer is found again."""
    for stripe_refund in stripe_refunds:
        if (stripe_refund.get("metadata") or {}).get("refund_id") == str(refund_id):
            return stripe_refund
    return None


def gives_up(created_at: datetime, now: datetime, give_up_after: timedelta) -> bool:
    """A refund Stripe never made is retried until this deadline, then failed
    (the amount is refundable again and admins are told)."""
    return now - created_at >= give_up_after
