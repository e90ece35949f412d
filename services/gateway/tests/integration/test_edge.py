"""The public edge over real HTTP: claims, token lifetime, security headers,
streams per user, rate limits through trusted proxies, hostile webhooks."""

import asyncio
import json
import time

import jwt
import pytest

from gateway.auth import AUDIENCE, ISSUER
from gateway.settings import Settings
from tests.support.stripe_events import sign_stripe_payload, stripe_event

from .conftest import FakeService, serving


def token(settings: Settings, **overrides: object) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "fan-1", "role": "fan", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    claims = {k: v for k, v in (claims | overrides).items() if v is not None}
    return {"Authorization": f"Bearer {jwt.encode(claims, settings.jwt_secret, algorithm='HS256')}"}


def assert_401_problem(response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("claims", [
    {"sub": "fan-创"}, {"sub": "fan\n1"}, {"sub": "fan\x7f"},
    {"email": "fan@例え.jp"}, {"email": "fan@example.com\r\nBcc: all@example.com"}, {"email": "not an address"},
])
async def test_a_token_with_a_bad_subject_or_email_is_401(gateway, gateway_settings, fake_service: FakeService,
                                                          claims):
    assert_401_problem(await gateway.get("/api/notifications", headers=token(gateway_settings, **claims)))
    assert fake_service.seen == []


async def test_the_email_claim_goes_on_as_parsed(gateway, gateway_settings, fake_service: FakeService):
    response = await gateway.get("/api/notifications",
                                 headers=token(gateway_settings, email="fan.one+x@example.com"))
    assert response.status_code == 200
    assert fake_service.seen[0].identity.email == "fan.one+x@example.com"


async def test_a_token_living_longer_than_the_maximum_or_without_iat_is_401(gateway_settings, fake_service):
    now = int(time.time())
    async with serving(gateway_settings.model_copy(update={"max_token_lifetime_s": 3600})) as gateway:
        assert_401_problem(await gateway.get("/api/notifications",
                                             headers=token(gateway_settings, iat=now, exp=now + 3601)))
        assert_401_problem(await gateway.get("/api/notifications", headers=token(gateway_settings, iat=None)))
        ok = await gateway.get("/api/notifications", headers=token(gateway_settings, iat=now, exp=now + 3600))
        assert ok.status_code == 200
    assert len(fake_service.seen) == 1


async def test_every_answer_carries_the_security_headers(gateway, gateway_settings):
    answers = [await gateway.get("/health"), await gateway.get("/api/notifications"),
               await gateway.get("/api/notifications", headers=token(gateway_settings)),
               await gateway.post("/webhooks/stripe", content=b"{}")]
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert "Strict-Transport-Security" not in answer.headers  # plain HTTP, no trusted proxy
    assert [a.headers.get("Cache-Control") for a in answers[1:3]] == ["no-store", "no-store"]
    assert "no-store" not in answers[0].headers.get("Cache-Control", "")


async def test_hsts_only_when_the_request_came_over_tls_through_a_trusted_proxy(gateway_settings):
    via_proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    async with serving(gateway_settings) as untrusted:
        assert "Strict-Transport-Security" not in (await untrusted.get("/health", headers=via_proxy)).headers
    async with serving(gateway_settings.model_copy(update={"trusted_proxies": "127.0.0.0/8"})) as trusted:
        assert (await trusted.get("/health", headers=via_proxy)).headers["Strict-Transport-Security"] == \
            "max-age=31536000; includeSubDomains"
        assert "Strict-Transport-Security" not in (await trusted.get("/health")).headers
    async with serving(gateway_settings.model_copy(update={"always_hsts": True})) as always:
        assert "Strict-Transport-Security" in (await always.get("/health")).headers


async def test_streams_are_capped_per_user(gateway_settings, fake_service: FakeService):
    fake_service.reply("/notifications/unread-count", 200, {"unread": 0})
    async with serving(gateway_settings.model_copy(update={"max_streams_per_user": 2})) as gateway:
        fan = token(gateway_settings)
        async with gateway.stream("GET", "/api/notifications/stream", headers=fan) as first, \
                gateway.stream("GET", "/api/notifications/stream", headers=fan) as second:
            assert (first.status_code, second.status_code) == (200, 200)
            third = await gateway.get("/api/notifications/stream", headers=fan)
            assert third.status_code == 429
            assert third.headers["content-type"].startswith("application/problem+json")
            assert "at most 2" in third.json()["detail"]
            other = token(gateway_settings, sub="fan-2")
            async with gateway.stream("GET", "/api/notifications/stream", headers=other) as someone_else:
                assert someone_else.status_code == 200
        # Closed streams free their places (the server notices the hang-up on its next write).
        for _ in range(100):
            async with gateway.stream("GET", "/api/notifications/stream", headers=fan) as again:
                if again.status_code == 200:
                    break
            await asyncio.sleep(0.2)
        assert again.status_code == 200


async def test_a_forwarded_for_header_from_an_untrusted_peer_picks_no_fresh_rate_limit(gateway_settings):
    async with serving(gateway_settings.model_copy(update={"rate_limit_per_minute": 2})) as gateway:
        codes = [(await gateway.get("/api/notifications", headers={"X-Forwarded-For": f"198.51.100.{i}"}))
                 .status_code for i in range(3)]
    assert codes == [401, 401, 429]


async def test_the_rate_limit_counts_the_client_behind_a_trusted_proxy(gateway_settings):
    settings = gateway_settings.model_copy(update={"rate_limit_per_minute": 2, "trusted_proxies": "127.0.0.1"})

    async def status(client: str) -> int:
        # The client wrote a first hop itself; our proxy appended the address it saw.
        headers = {"X-Forwarded-For": f"10.9.9.9, {client}"}
        return (await gateway.get("/api/notifications", headers=headers)).status_code

    async with serving(settings) as gateway:
        assert [await status("203.0.113.1") for _ in range(3)] == [401, 401, 429]
        assert await status("203.0.113.2") == 401


async def test_webhooks_have_their_own_higher_rate_limit(gateway_settings):
    settings = gateway_settings.model_copy(update={"rate_limit_per_minute": 1, "webhook_rate_limit_per_minute": 3})
    async with serving(settings) as gateway:
        codes = [(await gateway.post("/webhooks/stripe", content=b"{}")).status_code for _ in range(4)]
        assert codes == [400, 400, 400, 429]  # unsigned: refused, and counted
        assert (await gateway.get("/api/notifications")).status_code == 401  # the API's count is its own


@pytest.mark.parametrize("depth", [40, 100_000])
async def test_a_signed_webhook_nested_too_deep_is_400(gateway, gateway_settings, depth):
    event = stripe_event("payment_intent.succeeded", {"id": "pi_deep"})
    raw = json.dumps(event).encode()[:-1] + b', "extra": ' + b"[" * depth + b"]" * depth + b"}"
    answer = await gateway.post("/webhooks/stripe", content=raw, headers={
        "Stripe-Signature": sign_stripe_payload(raw, gateway_settings.stripe_webhook_secret),
        "Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert "deeper than" in answer.json()["detail"]


async def test_a_bad_signature_answer_does_not_carry_stripes_text(gateway):
    raw = json.dumps(stripe_event("payment_intent.succeeded", {"id": "pi_1"})).encode()
    answer = await gateway.post("/webhooks/stripe", content=raw,
                                headers={"Stripe-Signature": sign_stripe_payload(raw, "whsec_someone_else")})
    assert answer.status_code == 400
    assert answer.json()["detail"] == "bad Stripe-Signature"
