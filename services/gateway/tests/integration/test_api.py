"""The /api routes against a fake downstream service over real HTTP (no Kafka)."""

import json
import time

import jwt

from gateway.auth import issue_token
from gateway.settings import Settings

from .conftest import FakeService, closed_port, serving


def bearer(settings: Settings, subject: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(subject, role, settings.jwt_secret)}"}


async def test_fan_payment_intent_is_forwarded_with_identity(
    gateway, gateway_settings, fake_service: FakeService
):
    fake_service.reply("/payments/intents", 201, {"client_secret": "pi_1_secret", "amount_minor": 10000})
    response = await gateway.post(
        "/api/payments/intents", json={"offer_id": "o-1"},
        headers=bearer(gateway_settings, "fan-1", "fan") | {"X-Correlation-Id": "corr-123"},
    )
    assert response.status_code == 201
    assert response.json() == {"client_secret": "pi_1_secret", "amount_minor": 10000}
    assert response.headers["X-Correlation-Id"] == "corr-123"
    [call] = fake_service.seen
    assert (call.method, call.path) == ("POST", "/payments/intents")
    assert json.loads(call.body) == {"offer_id": "o-1"}
    assert call.audience == "payments"
    assert call.identity.user_id == "fan-1"
    assert call.identity.role == "fan"
    assert call.headers["x-correlation-id"] == "corr-123"


async def test_a_correlation_id_is_made_when_the_caller_sends_none(gateway, gateway_settings, fake_service):
    response = await gateway.get("/api/payments/pay_1", headers=bearer(gateway_settings, "fan-1", "fan"))
    assert response.status_code == 200
    made = response.headers["X-Correlation-Id"]
    assert len(made) == 36
    assert fake_service.seen[0].headers["x-correlation-id"] == made
    assert fake_service.seen[0].path == "/payments/pay_1"


async def test_missing_or_bad_token_is_401_problem_with_challenge(gateway, gateway_settings, fake_service):
    expired = jwt.encode({"sub": "fan-1", "role": "fan", "iss": "callastar", "aud": "callastar-api",
                          "exp": int(time.time()) - 120}, gateway_settings.jwt_secret, algorithm="HS256")
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": f"Bearer {expired}"}):
        response = await gateway.get("/api/notifications", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["status"] == 401
        assert response.headers["X-Correlation-Id"]
    assert fake_service.seen == []


async def test_wrong_role_is_403_problem(gateway, gateway_settings, fake_service):
    response = await gateway.post("/api/payments/intents", json={},
                                  headers=bearer(gateway_settings, "creator-1", "creator"))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert fake_service.seen == []


async def test_downstream_problem_is_passed_through(gateway, gateway_settings, fake_service):
    problem = {"status": 422, "title": "offer not payable", "detail": "offer o-9 is archived"}
    fake_service.reply("/payments/intents", 422, problem, "application/problem+json")
    response = await gateway.post("/api/payments/intents", json={"offer_id": "o-9"},
                                  headers=bearer(gateway_settings, "fan-1", "fan"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == problem


async def test_downstream_crash_page_becomes_a_problem_with_its_status(
    gateway, gateway_settings, fake_service
):
    fake_service.reply("/payments/pay_1", 500, b"<html>Traceback ...</html>", "text/html")
    response = await gateway.get("/api/payments/pay_1", headers=bearer(gateway_settings, "fan-1", "fan"))
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in response.text


async def test_downstream_down_is_503_problem(gateway_settings):
    settings = gateway_settings.model_copy(update={"ledger_url": f"http://127.0.0.1:{closed_port()}"})
    async with serving(settings) as gateway:
        response = await gateway.get("/api/balance", headers=bearer(settings, "creator-1", "creator"))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert "ledger" in problem["title"] + problem["detail"]


async def test_creator_balance_is_their_own(gateway, gateway_settings, fake_service):
    fake_service.reply("/balances/creator-1", 200, {"creator_id": "creator-1", "balances": []})
    response = await gateway.get("/api/balance", headers=bearer(gateway_settings, "creator-1", "creator"))
    assert response.status_code == 200
    assert response.json()["creator_id"] == "creator-1"
    other = await gateway.get("/api/balance", params={"creator_id": "creator-2"},
                              headers=bearer(gateway_settings, "creator-1", "creator"))
    assert other.status_code == 403
    assert [s.path for s in fake_service.seen] == ["/balances/creator-1"]


async def test_admin_names_the_creator_whose_balance_they_read(gateway, gateway_settings, fake_service):
    admin = bearer(gateway_settings, "admin-1", "admin")
    assert (await gateway.get("/api/balance", headers=admin)).status_code == 400
    response = await gateway.get("/api/balance", params={"creator_id": "creator-7"}, headers=admin)
    assert response.status_code == 200
    [call] = fake_service.seen
    assert call.path == "/balances/creator-7"
    assert call.identity.role == "admin"


async def test_fan_cannot_read_a_balance(gateway, gateway_settings, fake_service):
    response = await gateway.get("/api/balance", headers=bearer(gateway_settings, "fan-1", "fan"))
    assert response.status_code == 403


async def test_ids_that_could_escape_the_path_are_not_forwarded(gateway, gateway_settings, fake_service):
    response = await gateway.get("/api/balance", params={"creator_id": "../payouts"},
                                 headers=bearer(gateway_settings, "admin-1", "admin"))
    # Not a creator id at all: refused by the published query schema, naming it.
    assert response.status_code == 400
    assert response.json()["extra"][0]["key"] == "creator_id"
    assert fake_service.seen == []


async def test_notification_queries_are_passed_through(gateway, gateway_settings, fake_service):
    fake_service.reply("/notifications", 200, {"items": [{"id": "n-1"}], "next_cursor": "c2"})
    fake_service.reply("/notifications/unread-count", 200, {"unread": 3})
    who = bearer(gateway_settings, "creator-1", "creator")
    listed = await gateway.get("/api/notifications", params={"cursor": "c1", "limit": 5, "unread": "true"},
                               headers=who)
    count = await gateway.get("/api/notifications/unread-count", headers=who)
    assert listed.json() == {"items": [{"id": "n-1"}], "next_cursor": "c2"}
    assert count.json() == {"unread": 3}
    assert [(s.path, s.query) for s in fake_service.seen] == [
        ("/notifications", "cursor=c1&limit=5&unread=true"),
        ("/notifications/unread-count", ""),
    ]
    bad = await gateway.get("/api/notifications", params={"limit": 0}, headers=who)
    assert bad.status_code == 400


async def test_oversized_body_is_refused(gateway_settings, fake_service):
    settings = gateway_settings.model_copy(update={"max_body_bytes": 1024})
    async with serving(settings) as gateway:
        response = await gateway.post("/api/payments/intents", json={"pad": "x" * 2048},
                                      headers=bearer(settings, "fan-1", "fan"))
    assert response.status_code == 413
    assert fake_service.seen == []


async def test_api_is_rate_limited_per_client(gateway_settings, fake_service):
    settings = gateway_settings.model_copy(update={"rate_limit_per_minute": 3})
    async with serving(settings) as gateway:
        who = bearer(settings, "fan-1", "fan")
        statuses = [(await gateway.get("/api/notifications", headers=who)).status_code for _ in range(4)]
        webhook = await gateway.post("/webhooks/stripe", content=b"{}")
    assert statuses == [200, 200, 200, 429]
    assert webhook.headers["X-Correlation-Id"]
    assert webhook.status_code == 400  # webhooks are not counted against the API limit


async def test_openapi_declares_bearer_auth(gateway):
    schema = (await gateway.get("/schema/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    assert schema["paths"]["/api/balance"]["get"]["security"] == [{"BearerToken": []}]
    assert "/webhooks/stripe" in schema["paths"]


async def test_not_ready_while_kafka_is_down(gateway):
    assert (await gateway.get("/health")).status_code == 200
    ready = await gateway.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["kafka"] is False
    assert ready.json()["checks"]["payments"] is True
