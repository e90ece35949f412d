"""Payments' pure rules: the creator's share, what a fan may be charged, what
Stripe must have received, and the states of a payment. No I/O here."""

from dataclasses import dataclass
from enum import StrEnum

DEFAULT_SHARE_BPS = 8500  # 85 % in basis points

# Currencies we charge in, with Stripe's smallest chargeable amount for each
# (minor units). Anything smaller is refused by Stripe anyway; we refuse it first.
MIN_PRICE_MINOR: dict[str, int] = {"EUR": 50, "USD": 50, "GBP": 30, "CHF": 50}
MAX_PRICE_MINOR = 1_000_000  # 10,000.00 in any supported currency


class PaymentError(Exception):
    """Base of the payments service's domain errors."""


class InvalidAmount(PaymentError):
    pass


class UnsupportedCurrency(PaymentError):
    pass


class IdempotencyKeyReused(PaymentError):
    """A fan's Idempotency-Key came back with a different request."""


def receipt_mismatch(
    *, price_minor: int, currency: str, amount_received: object, received_currency: object
) -> str | None:
    """Why what Stripe says it received (a PaymentIntent's `amount_received` and
    lower-case `currency`) is not the payment's snapshot, or None if it is.
    Absent or malformed counts as different: nothing is credited on a guess."""
    if not is_integer(amount_received) or amount_received != price_minor:
        return f"Stripe received {amount_received!r} minor units, the payment is for {price_minor}"
    if not isinstance(received_currency, str) or received_currency.upper() != currency:
        return f"Stripe received currency {received_currency!r}, the payment is in {currency}"
    return None


@dataclass(frozen=True)
class Split:
    price_minor: int  # what the fan pays
    creator_share_minor: int  # ceil(price * bps / 10000): never below the promised share
    platform_fee_minor: int  # price - creator share; Stripe's fee comes out of it


def split(price_minor: int, share_bps: int = DEFAULT_SHARE_BPS) -> Split:
    """Integer arithmetic only: -(-a // b) is ceil(a / b) without a float in sight."""
    if not is_integer(price_minor) or price_minor < 0:
        raise InvalidAmount(f"a price is a non-negative integer in minor units, not {price_minor!r}")
    if not is_integer(share_bps) or not 0 <= share_bps <= 10_000:
        raise ValueError(f"share_bps must be an integer in [0, 10000], not {share_bps!r}")
    share = -(-price_minor * share_bps // 10_000)
    return Split(price_minor=price_minor, creator_share_minor=share, platform_fee_minor=price_minor - share)


def check_price(price_minor: int, currency: str) -> None:
    """Raise unless a fan may be charged `price_minor` in `currency` (ISO 4217, upper case)."""
    if currency not in MIN_PRICE_MINOR:
        supported = ", ".join(sorted(MIN_PRICE_MINOR))
        raise UnsupportedCurrency(f"currency {currency!r} is not supported (use one of {supported})")
    if not is_integer(price_minor):
        raise InvalidAmount(f"a price is an integer in minor units, not {price_minor!r}")
    low = MIN_PRICE_MINOR[currency]
    if not low <= price_minor <= MAX_PRICE_MINOR:
        raise InvalidAmount(
            f"price must be between {low} and {MAX_PRICE_MINOR} minor units of {currency}, not {price_minor}"
        )


def is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class PaymentStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    # Stripe reported a success for another amount or currency than the payment's
    # snapshot: nothing is credited, an admin looks at it.
    NEEDS_REVIEW = "NEEDS_REVIEW"


# pending -> succeeded | failed | needs review. Failed -> succeeded is real: a
# PaymentIntent whose first attempt failed stays open and the fan may pay it with
# another card. Succeeded and needs review are final here (refunds and disputes
# are their own records), so a late or duplicated event after them is stale.
_TRANSITIONS: frozenset[tuple[PaymentStatus, PaymentStatus]] = frozenset(
    {
        (PaymentStatus.PENDING, PaymentStatus.SUCCEEDED),
        (PaymentStatus.PENDING, PaymentStatus.FAILED),
        (PaymentStatus.FAILED, PaymentStatus.SUCCEEDED),
        (PaymentStatus.PENDING, PaymentStatus.NEEDS_REVIEW),
        (PaymentStatus.FAILED, PaymentStatus.NEEDS_REVIEW),
    }
)


def should_transition(current: PaymentStatus, target: PaymentStatus) -> bool:
    """True if a payment in `current` moves to `target`; False for a stale or
    duplicate transition, which the caller ignores (Stripe sends both)."""
    return (current, target) in _TRANSITIONS


@dataclass(frozen=True)
class ReportedSuccess:
    """Where Stripe's report that a payment succeeded moves it."""

    status: PaymentStatus  # SUCCEEDED, or NEEDS_REVIEW when what was received is not the snapshot
    review_reason: str | None  # why it needs review; None when it succeeded


def success_reported(
    current: PaymentStatus, *, price_minor: int, currency: str, amount_received: object, received_currency: object
) -> ReportedSuccess | None:
    """What a payment in `current` becomes when Stripe reports it succeeded having
    received `amount_received` of `received_currency` (see receipt_mismatch);
    None when the report is stale or a duplicate (the payment is past it)."""
    reason = receipt_mismatch(price_minor=price_minor, currency=currency, amount_received=amount_received,
                              received_currency=received_currency)
    target = PaymentStatus.SUCCEEDED if reason is None else PaymentStatus.NEEDS_REVIEW
    return ReportedSuccess(target, reason) if should_transition(current, target) else None
