"""End-to-end: drive the gateway over HTTP against the running stack."""

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from gateway.auth import issue_token
from tests.support.contract import PublishedContract
from tests.support.offers import create_offer, open_intent
from tests.support.stripe_events import sign_stripe_payload, stripe_event


class Gateway:
    """An HTTP client for the gateway that knows how to act as someone and as Stripe."""

    def __init__(self, client: httpx.AsyncClient, env: dict[str, str]) -> None:
        self.http = client
        self.env = env

    def auth(self, user_id: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(user_id, role, self.env['CALLASTAR_JWT_SECRET'])}"}

    async def create_offer(self, creator_id: str, price_minor: int, currency: str = "EUR") -> dict[str, Any]:
        return await create_offer(self.http, self.auth(creator_id, "creator"), price_minor, currency)

    async def create_intent(self, fan_id: str, creator_id: str, price_minor: int, currency: str = "EUR") -> dict[str, Any]:
        """The creator offers something at `price_minor`, and the fan starts paying for it."""
        offer = await self.create_offer(creator_id, price_minor, currency)
        response = await open_intent(self.http, self.auth(fan_id, "fan"), offer["offer_id"])
        assert response.status_code == 201, response.text
        return response.json()

    async def send_webhook(self, event: dict[str, Any], *, connect: bool = False, secret: str | None = None,
                           timestamp: int | None = None) -> httpx.Response:
        body = json.dumps(event).encode()
        secret = secret or self.env[
            "CALLASTAR_STRIPE_CONNECT_WEBHOOK_SECRET" if connect else "CALLASTAR_STRIPE_WEBHOOK_SECRET"
        ]
        path = "/webhooks/stripe/connect" if connect else "/webhooks/stripe"
        return await self.http.post(path, content=body, headers={
            "Stripe-Signature": sign_stripe_payload(body, secret, timestamp),
            "Content-Type": "application/json",
        })

    async def balance(self, creator_id: str) -> dict[str, dict[str, int]]:
        response = await self.http.get("/api/balance", headers=self.auth(creator_id, "creator"))
        assert response.status_code == 200, response.text
        return {b["currency"]: b for b in response.json()["balances"]}


def payment_intent_succeeded(intent: dict[str, Any]) -> dict[str, Any]:
    """The event Stripe sends when the fan's payment for `intent` (our API's answer) succeeds."""
    amounts = intent["amounts"]
    return stripe_event("payment_intent.succeeded", {
        "id": intent["stripe_payment_intent_id"],
        "object": "payment_intent",
        "amount": amounts["price_minor"],
        "amount_received": amounts["price_minor"],
        "currency": amounts["currency"].lower(),
        "status": "succeeded",
        "latest_charge": f"ch_{secrets.token_hex(12)}",
        "metadata": {"payment_id": intent["payment_id"]},
    })


@pytest.fixture(scope="session")
async def contract(stack) -> PublishedContract:
    """The OpenAPI document the running gateway serves."""
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        served = await client.get("/schema/openapi.json")
    assert served.status_code == 200, served.text
    return PublishedContract(served.json())


@pytest.fixture
async def gateway(stack, contract: PublishedContract) -> AsyncIterator[Gateway]:
    """Every answer it gets is checked against the published document."""
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30,
                                 event_hooks={"response": [contract.check]}) as client:
        yield Gateway(client, stack.env)


@pytest.fixture
async def databases(stack) -> AsyncIterator[dict[str, asyncpg.Connection]]:
    """Read-only peeks into each service's own database, for assertions."""
    connections = {name: await asyncpg.connect(stack.asyncpg_dsn(name))
                   for name in ("payments", "ledger", "notifications")}
    yield connections
    for connection in connections.values():
        await connection.close()


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"
