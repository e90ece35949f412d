"""A thin async wrapper over the Stripe SDK: the only place that talks to Stripe.

Every call carries an idempotency key derived from our ids, so a retry (ours,
the SDK's own network retries, or a replay after a crash) never creates a
second object at Stripe.
"""

import uuid
from dataclasses import dataclass
from typing import Any

import stripe

from common.stripe_api import StripeApi


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    client_secret: str | None  # None only if Stripe withholds it (e.g. a restricted key)
    status: str


def intent_idempotency_key(payment_id: uuid.UUID) -> str:
    return f"payment-intent:{payment_id}"


def refund_idempotency_key(refund_id: uuid.UUID) -> str:
    return f"refund:{refund_id}"


def transfer_group(payment_id: uuid.UUID) -> str:
    """The charge's group in Stripe's reports. Payouts' transfers do not join it:
    one transfer pays out many payments, so each carries its payout's own group."""
    return f"payment_{payment_id}"


class StripeGateway(StripeApi):
    async def create_payment_intent(
        self,
        *,
        payment_id: uuid.UUID,
        amount_minor: int,
        currency: str,
        creator_id: str,
        fan_id: str,
        offer_id: str | None,
    ) -> PaymentIntent:
        # Separate charges and transfers: the charge lands on the platform's balance
        # (no transfer_data / application fee) and a creator is paid later, by a
        # payout's transfer of their net across many charges. The metadata lets a
        # webhook find the payment even if we crashed before storing the intent's id.
        metadata = {"payment_id": str(payment_id), "creator_id": creator_id, "fan_id": fan_id}
        if offer_id is not None:
            metadata["offer_id"] = offer_id
        intent = await self.call(self.v1.payment_intents.create_async(
            {
                "amount": amount_minor,
                "currency": currency.lower(),
                "automatic_payment_methods": {"enabled": True},
                "metadata": metadata,
                "transfer_group": transfer_group(payment_id),
            },
            options={"idempotency_key": intent_idempotency_key(payment_id)},
        ))
        return _intent(intent)

    async def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentIntent:
        intent = await self.call(self.v1.payment_intents.retrieve_async(payment_intent_id))
        return _intent(intent)

    async def create_refund(
        self,
        *,
        refund_id: uuid.UUID,
        payment_id: uuid.UUID,
        payment_intent_id: str,
        amount_minor: int,
        reason: str | None,
    ) -> dict[str, Any]:
        """The Refund as Stripe answered it (a plain dict, shaped like a webhook's
        `data.object`). The metadata lets a webhook find our refund even if we
        crashed before storing its Stripe id."""
        params: dict[str, Any] = {
            "payment_intent": payment_intent_id,
            "amount": amount_minor,
            "metadata": {"refund_id": str(refund_id), "payment_id": str(payment_id)},
        }
        if reason is not None:
            params["reason"] = reason
        refund = await self.call(self.v1.refunds.create_async(
            params, options={"idempotency_key": refund_idempotency_key(refund_id)}
        ))
        return refund.to_dict()

    async def list_refunds(self, payment_intent_id: str) -> list[dict[str, Any]]:
        """The refunds of the PaymentIntent's charge, newest first (a read: no
        idempotency key); one page of 100 is enough for the refunds of one payment."""
        page = await self.call(self.v1.refunds.list_async({"payment_intent": payment_intent_id, "limit": 100}))
        return [refund.to_dict() for refund in page.data]

    async def retrieve_charge_with_balance_transaction(self, charge_id: str) -> dict[str, Any]:
        """The Charge with its balance transaction expanded (a read: no idempotency key)."""
        charge = await self.call(self.v1.charges.retrieve_async(charge_id, {"expand": ["balance_transaction"]}))
        return charge.to_dict()

    async def retrieve_balance_transaction(self, balance_transaction_id: str) -> dict[str, Any]:
        """A balance transaction (a read: no idempotency key)."""
        txn = await self.call(self.v1.balance_transactions.retrieve_async(balance_transaction_id))
        return txn.to_dict()


def _intent(intent: stripe.PaymentIntent) -> PaymentIntent:
    return PaymentIntent(id=intent.id, client_secret=intent.client_secret, status=intent.status)
