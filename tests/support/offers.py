"""Paying for something the way fans do now: a creator puts an offer in the
catalogue, then a fan opens an intent naming it. Works with any httpx client: the
gateway's (`/api` paths, bearer tokens) or a service's in-process test client
(internal paths, identity headers)."""

import secrets
from collections.abc import Mapping
from typing import Any

import httpx


async def create_offer(
    client: httpx.AsyncClient,
    creator_headers: Mapping[str, str],
    price_minor: int,
    currency: str = "EUR",
    *,
    prefix: str = "/api",
) -> dict[str, Any]:
    response = await client.post(
        f"{prefix}/offers",
        json={"title": f"Call {secrets.token_hex(3)}", "price_minor": price_minor, "currency": currency},
        headers=dict(creator_headers),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def open_intent(
    client: httpx.AsyncClient,
    fan_headers: Mapping[str, str],
    offer_id: str,
    *,
    prefix: str = "/api",
    idempotency_key: str | None = None,
) -> httpx.Response:
    headers = dict(fan_headers)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return await client.post(f"{prefix}/payments/intents", json={"offer_id": offer_id}, headers=headers)
