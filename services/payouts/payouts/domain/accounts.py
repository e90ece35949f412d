"""Whether a creator's connected Stripe account can receive payouts."""

from collections.abc import Mapping, Sequence
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


def updates_kept(stored_created: Mapping[str, int | None], updates: Sequence[tuple[str | None, int]]) -> dict[str, int]:
    """Where a batch of account.updated leaves each account, applied in order:
    per account in `stored_created` (its id -> `created` of the Stripe event its
    flags come from), the position in `updates` ((account id, created) each) of
    the update it ends at. An older event never overwrites; an account we do not
    hold is not ours."""
    latest = dict(stored_created)
    kept: dict[str, int] = {}
    for position, (account_id, created) in enumerate(updates):
        if account_id is None or account_id not in latest:
            continue
        if (current := latest[account_id]) is not None and created < current:
            continue
        latest[account_id] = created
        kept[account_id] = position
    return kept
