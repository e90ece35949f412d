"""The checker the e2e tests put on every gateway answer (tests/support/contract.py)
refuses what the published document does not say."""

import json

import httpx
import pytest

from gateway import openapi
from tests.support.contract import PublishedContract

OFFER = {"offer_id": "o-1", "creator_id": "c-1", "title": "Call", "price_minor": 2500, "currency": "EUR",
         "active": True, "created_at": "2026-12-01T10:00:00+00:00", "updated_at": "2026-12-01T10:00:00+00:00"}


async def _answer(status: int, body: object, content_type: str = "application/json",
                  path: str = "/api/offers/mine") -> httpx.Response:
    contract = PublishedContract(json.loads(openapi.OPENAPI_FILE.read_text()))
    transport = httpx.MockTransport(lambda _: httpx.Response(status, content=json.dumps(body).encode(),
                                                             headers={"Content-Type": content_type}))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway",
                                 event_hooks={"response": [contract.check]}) as client:
        return await client.get(path)


async def test_an_answer_as_published_passes() -> None:
    assert (await _answer(200, {"items": [OFFER]})).status_code == 200
    assert (await _answer(404, {"status": 404, "title": "Not Found"}, "application/problem+json",
                          "/api/payouts/p-1")).status_code == 404


@pytest.mark.parametrize(("status", "body", "content_type", "mismatch"), [
    (200, {"items": [{**OFFER, "price_minor": "25.00"}]}, "application/json", "price_minor"),
    (200, {"items": [{k: v for k, v in OFFER.items() if k != "currency"}]}, "application/json", "currency"),
    (200, {"items": [OFFER]}, "text/html", "documented"),
    (418, {}, "application/json", "does not document"),
    (403, {"status": 403, "title": "Forbidden", "type": "https://example.com/other"}, "application/problem+json",
     "type"),
])
async def test_an_answer_unlike_the_published_one_fails(status, body, content_type, mismatch) -> None:
    with pytest.raises(AssertionError, match=mismatch):
        await _answer(status, body, content_type)
