"""A Stripe HTTP client for tests that records what the SDK sends.

stripe-mock ignores idempotency keys and `Stripe-Account` and echoes no
metadata, so tests check those on the requests themselves."""

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe


@dataclass(frozen=True)
class StripeRequest:
    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]  # the form-encoded body, e.g. {"metadata[payment_id]": "..."}


class RecordingStripeHttp(stripe.HTTPXClient):
    """The SDK's own HTTPX client, remembering each request it sends. A queued
    refusal is answered instead of calling stripe-mock, which never refuses a
    well-formed request: `refusals` to the next call that creates something
    (it carries an idempotency key; reads made before it pass), `refusals_at`
    to the next request to that path (e.g. "/v1/payouts")."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[StripeRequest] = []
        self.refusals: list[tuple[int, dict[str, Any]]] = []
        self.refusals_at: list[tuple[str, int, dict[str, Any]]] = []

    async def request_async(self, method, url, headers, post_data=None):  # noqa: ANN001, ANN201 - SDK signature
        body = post_data.decode() if isinstance(post_data, bytes) else post_data or ""
        self.requests.append(StripeRequest(method, url, dict(headers), dict(parse_qsl(body))))
        refusal = self._refusal_for(url, headers)
        if refusal is not None:
            status, error = refusal
            return json.dumps(error).encode(), status, {"request-id": "req_refused"}
        return await super().request_async(method, url, headers, post_data)

    def _refusal_for(self, url: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
        path = urlsplit(url).path
        for queued in self.refusals_at:
            if path == queued[0]:
                self.refusals_at.remove(queued)
                return queued[1], queued[2]
        if self.refusals and "Idempotency-Key" in headers:
            return self.refusals.pop(0)
        return None

    def with_key(self, key: str) -> list[StripeRequest]:
        return [r for r in self.requests if r.headers.get("Idempotency-Key") == key]

    def for_payment(self, payment_id: str) -> list[StripeRequest]:
        return [r for r in self.requests if r.params.get("metadata[payment_id]") == payment_id]
