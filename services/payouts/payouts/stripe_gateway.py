"""A thin async wrapper over the Stripe SDK: the only place payouts talks to Stripe.

Every call that creates something carries an idempotency key derived from our
ids, so a retry (ours, the SDK's network retries, an admin's second approve)
never creates a second object at Stripe.
"""

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from common.stripe_api import StripeApi


def account_idempotency_key(creator_id: str) -> str:
    return f"account:{creator_id}"


def transfer_idempotency_key(payout_id: uuid.UUID) -> str:
    return f"transfer:{payout_id}"


def payout_idempotency_key(payout_id: uuid.UUID) -> str:
    return f"payout:{payout_id}"


def reversal_idempotency_key(payout_id: uuid.UUID, transfer_id: str) -> str:
    return f"reversal:{payout_id}:{transfer_id}"


def transfer_group(payout_id: uuid.UUID) -> str:
    return f"payout_{payout_id}"


def transfer_made_for(transfers: Iterable[Mapping[str, Any]], payout_id: uuid.UUID) -> str | None:
    """The id of the transfer we made for this payout among Stripe's `transfers`
    (its transfer group or metadata names the payout), or None."""
    for transfer in transfers:
        if (transfer.get("transfer_group") == transfer_group(payout_id)
                or (transfer.get("metadata") or {}).get("payout_id") == str(payout_id)):
            return transfer["id"]
    return None


@dataclass(frozen=True)
class ConnectedAccount:
    id: str
    payouts_enabled: bool
    charges_enabled: bool
    details_submitted: bool
    requirements: dict[str, Any]


def account_state(account: dict[str, Any]) -> ConnectedAccount:
    """The fields we keep of an Account (from the API or a webhook's data.object)."""
    requirements = account.get("requirements") or {}
    return ConnectedAccount(
        id=account["id"],
        payouts_enabled=bool(account.get("payouts_enabled")),
        charges_enabled=bool(account.get("charges_enabled")),
        details_submitted=bool(account.get("details_submitted")),
        requirements={
            "currently_due": list(requirements.get("currently_due") or []),
            "past_due": list(requirements.get("past_due") or []),
            "disabled_reason": requirements.get("disabled_reason"),
        },
    )


class StripeGateway(StripeApi):
    async def create_account(self, creator_id: str) -> ConnectedAccount:
        # `controller` instead of the deprecated `type=express`: an Express
        # dashboard requires the platform to pay Stripe's fees and bear losses.
        # Manual schedule: money leaves the connected account only when an
        # admin-approved payout asks for it.
        params: dict[str, Any] = {
            "controller": {
                "stripe_dashboard": {"type": "express"},
                "fees": {"payer": "application"},
                "losses": {"payments": "application"},
            },
            "capabilities": {"transfers": {"requested": True}},
            "settings": {"payouts": {"schedule": {"interval": "manual"}}},
            "metadata": {"creator_id": creator_id},
        }
        account = await self.call(self.v1.accounts.create_async(
            params, options={"idempotency_key": account_idempotency_key(creator_id)}
        ))
        return account_state(account.to_dict())

    async def create_onboarding_link(self, account_id: str, *, return_url: str, refresh_url: str) -> str:
        # No idempotency key on purpose: a link is single-use and expires, and
        # creating one moves no money; a repeated call must give a fresh link.
        link = await self.call(self.v1.account_links.create_async(
            {"account": account_id, "type": "account_onboarding",
             "return_url": return_url, "refresh_url": refresh_url}
        ))
        return link.url

    async def create_transfer(
        self, *, payout_id: uuid.UUID, amount_minor: int, currency: str, destination: str
    ) -> str:
        """Move the net amount from the platform's balance to the connected account."""
        transfer = await self.call(self.v1.transfers.create_async(
            {
                "amount": amount_minor,
                "currency": currency.lower(),
                "destination": destination,
                "transfer_group": transfer_group(payout_id),
                "metadata": {"payout_id": str(payout_id)},
            },
            options={"idempotency_key": transfer_idempotency_key(payout_id)},
        ))
        return transfer.id

    async def find_transfer(self, payout_id: uuid.UUID) -> str | None:
        """The transfer already made for this payout, if any. Asked before creating
        one: Stripe forgets an idempotency key after 24 h, so a resume later than
        that would otherwise make a second transfer."""
        page = await self.call(self.v1.transfers.list_async(
            {"transfer_group": transfer_group(payout_id), "limit": 100}
        ))
        return transfer_made_for((t.to_dict() for t in page.data), payout_id)

    async def create_payout(
        self, *, payout_id: uuid.UUID, amount_minor: int, currency: str, account_id: str
    ) -> str:
        """Send the money from the connected account to the creator's bank
        (a call made on the connected account: the Stripe-Account header)."""
        payout = await self.call(self.v1.payouts.create_async(
            {
                "amount": amount_minor,
                "currency": currency.lower(),
                "metadata": {"payout_id": str(payout_id)},
            },
            options={"idempotency_key": payout_idempotency_key(payout_id), "stripe_account": account_id},
        ))
        return payout.id

    async def reverse_transfer(self, *, payout_id: uuid.UUID, transfer_id: str) -> str:
        """Take the whole transfer back to the platform (after the bank refused the payout)."""
        reversal = await self.call(self.v1.transfers.reversals.create_async(
            transfer_id,
            {"metadata": {"payout_id": str(payout_id)}},
            options={"idempotency_key": reversal_idempotency_key(payout_id, transfer_id)},
        ))
        return reversal.id
