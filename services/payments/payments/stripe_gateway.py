"""A thin async wrapper over the Stripe SDK: the only place that talks to Stripe.

Every call carries an idempotency key derived from our ids, so a retry (ours,
the SDK's own network retries, or a replay after a crash) never creates a
second object at Stripe.
"""

import uuid
from dataclasses import dataclass
from typing import Any

import stripe

from common.stripe_calls import MeteredHTTPClient

NETWORK_RETRIES = 2  # the SDK retries connection errors and 5xx with the same idempotency key


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    client_secret: str | None  # None only if Stripe withholds it (e.g. a restricted key)
    status: str


class StripeCallFailed(Exception):
    """Stripe refused the call or could not be reached. `retryable` is False when
    Stripe answered with a definitive refusal (a 4xx other than a conflict or a
    rate limit): repeating the same call would be refused again."""

    def __init__(self, error: stripe.StripeError) -> None:
        super().__init__(error.user_message or str(error) or type(error).__name__)
        self.code = error.code or type(error).__name__
        status = error.http_status
        self.retryable = status is None or status >= 500 or status in (409, 429)

    @property
    def public_detail(self) -> str:
        """What a caller may read: the code, never Stripe's words (they can name the
        platform's account, a key's prefix or the parameters of our request);
        those go to the log only."""
        return f"Stripe {'did not complete' if self.retryable else 'refused'} the call ({self.code})"


def intent_idempotency_key(payment_id: uuid.UUID) -> str:
    return f"payment-intent:{payment_id}"


def refund_idempotency_key(refund_id: uuid.UUID) -> str:
    return f"refund:{refund_id}"


def transfer_group(payment_id: uuid.UUID) -> str:
    """Payouts transfer the creator's share later with the same group."""
    return f"payment_{payment_id}"


class StripeGateway:
    def __init__(self, api_key: str, api_base: str | None, *, http_client: stripe.HTTPClient | None = None) -> None:
        self._http = http_client or MeteredHTTPClient()
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=self._http,
            max_network_retries=NETWORK_RETRIES,
        )

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
        # (no transfer_data / application fee); the transfer group ties the later
        # transfer to this charge. The metadata lets a webhook find the payment even
        # if we crashed before storing the intent's id.
        metadata = {"payment_id": str(payment_id), "creator_id": creator_id, "fan_id": fan_id}
        if offer_id is not None:
            metadata["offer_id"] = offer_id
        try:
            intent = await self._client.v1.payment_intents.create_async(
                {
                    "amount": amount_minor,
                    "currency": currency.lower(),
                    "automatic_payment_methods": {"enabled": True},
                    "metadata": metadata,
                    "transfer_group": transfer_group(payment_id),
                },
                options={"idempotency_key": intent_idempotency_key(payment_id)},
            )
        except stripe.StripeError as error:
            raise StripeCallFailed(error) from error
        return _intent(intent)

    async def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentIntent:
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(payment_intent_id)
        except stripe.StripeError as error:
            raise StripeCallFailed(error) from error
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
        try:
            refund = await self._client.v1.refunds.create_async(
                params, options={"idempotency_key": refund_idempotency_key(refund_id)}
            )
        except stripe.StripeError as error:
            raise StripeCallFailed(error) from error
        return refund.to_dict()

    async def list_refunds(self, payment_intent_id: str) -> list[dict[str, Any]]:
        """The refunds of the PaymentIntent's charge, newest first (a read: no
        idempotency key); one page of 100 is enough for the refunds of one payment."""
        try:
            page = await self._client.v1.refunds.list_async({"payment_intent": payment_intent_id, "limit": 100})
        except stripe.StripeError as error:
            raise StripeCallFailed(error) from error
        return [refund.to_dict() for refund in page.data]

    async def retrieve_charge_with_balance_transaction(self, charge_id: str) -> dict[str, Any]:
        """The Charge with its balance transaction expanded (a read: no idempotency key)."""
        try:
            charge = await self._client.v1.charges.retrieve_async(charge_id, {"expand": ["balance_transaction"]})
        except stripe.StripeError as error:
            raise StripeCallFailed(error) from error
        return charge.to_dict()

    async def retrieve_balance_transaction(self, balance_transaction_id: str) -> dict[str, Any]:
        """A balance transaction (a read: no idempotency key)."""
        try:
            txn = await self._client.v1.balance_transactions.retrieve_async(balance_transaction_id)
        except stripe.StripeError as error:
            raise StripeCallFailed(error) from error
        return txn.to_dict()

    async def close(self) -> None:
        await self._http.close_async()


def _intent(intent: stripe.PaymentIntent) -> PaymentIntent:
    return PaymentIntent(id=intent.id, client_secret=intent.client_secret, status=intent.status)
