"""The one way a service reaches Stripe: the SDK client built once (base
address, HTTP client, network retries) and every refusal turned into
StripeCallFailed. What each service asks Stripe, with which idempotency key,
stays in its own stripe_gateway module."""

from collections.abc import Awaitable
from typing import TypeVar

import stripe

from common.stripe_calls import MeteredHTTPClient

NETWORK_RETRIES = 2  # the SDK retries connection errors and 5xx with the same idempotency key

T = TypeVar("T")


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


class StripeApi:
    """The SDK's client (`v1`) for `api_base` (stripe-mock in tests, Stripe when None)."""

    def __init__(self, api_key: str, api_base: str | None, *, http_client: stripe.HTTPClient | None = None) -> None:
        self._http = http_client or MeteredHTTPClient()
        self.v1 = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=self._http,
            max_network_retries=NETWORK_RETRIES,
        ).v1

    async def call(self, request: Awaitable[T]) -> T:
        """Await one SDK call: Stripe's answer, or StripeCallFailed."""
        try:
            return await request
        except stripe.StripeError as error:
            raise StripeCallFailed(error) from error

    async def close(self) -> None:
        await self._http.close_async()
