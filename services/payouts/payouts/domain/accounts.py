"""Whether a creator's connected Stripe account can receive payouts."""

from typing import Any, Protocol, TypeVar

from payouts.domain.errors import PayoutAccountNotReady


class ConnectedAccountFlags(Protocol):
    """What Stripe last told us of the account (a stored payout account has these)."""

    stripe_account_id: str | None
    payouts_enabled: bool
    requirements: dict[str, Any] | None


A = TypeVar("A", bound=ConnectedAccountFlags)


def check_account_ready(account: A | None) -> A:
    if account is None or account.stripe_account_id is None:
        raise PayoutAccountNotReady("payout_account_missing", "the creator has no connected payout account")
    if not account.payouts_enabled:
        disabled = (account.requirements or {}).get("disabled_reason")
        detail = "Stripe does not let this account receive payouts yet" + (f" ({disabled})" if disabled else "")
        raise PayoutAccountNotReady("payouts_disabled", detail)
    return account
