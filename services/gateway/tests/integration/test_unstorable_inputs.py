"""Every public route, probed with what the services' databases cannot hold:
each is refused at the gateway (400 naming the field, or 415), never forwarded."""

import json
import re

import pytest
from litestar.routes import HTTPRoute

from gateway.app import create_app
from gateway.auth import issue_token
from gateway.settings import Settings
from gateway.validation import READS_NO_BODY

from .conftest import FakeService

ROLES = ("fan", "creator", "admin")
TOO_BIG = 2**63  # one past the largest BIGINT
NUL = "a\x00b"


@pytest.fixture
def gateway_settings(gateway_settings: Settings) -> Settings:
    # The probe sends hundreds of requests as one user from one address.
    return gateway_settings.model_copy(update={"rate_limit_per_minute": 100_000,
                                               "sensitive_rate_limit_per_minute": 100_000})


def public_routes(settings: Settings, *, reading_a_body: bool = False) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves under /api, path parameters filled;
    `reading_a_body`: only those whose handler reads one (not, e.g., the one-click unsubscribe)."""
    app = create_app(settings)
    routes = []
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path.startswith("/api/"):
            path = re.sub(r"\{[^}]+\}", "x1", route.path)
            for handler in route.route_handlers:
                if reading_a_body and handler.opt.get(READS_NO_BODY):
                    continue
                routes += [(method, path) for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"})]
    return routes


async def probe(gateway, settings: Settings, method: str, path: str, **kwargs) -> list:
    """The answers of the route to each role: a guard may refuse a role first (403)."""
    answers = []
    sent_headers = kwargs.pop("headers", {})
    for role in ROLES:
        headers = {"Authorization": f"Bearer {issue_token('user-1', role, settings.jwt_secret)}", **sent_headers}
        answers.append(await gateway.request(method, path, headers=headers, **kwargs))
    return answers


def assert_refused_naming(answers: list, status: int, field: str) -> None:
    assert {a.status_code for a in answers} <= {status, 403}, [(a.status_code, a.text) for a in answers]
    refused = [a for a in answers if a.status_code == status]
    assert refused, "every role was refused by a guard: the probe did not reach validation"
    for answer in refused:
        assert answer.headers["content-type"].startswith("application/problem+json")
        if field:
            assert answer.json()["extra"][0]["key"] == field
            assert field in answer.json()["detail"]


def test_the_probe_covers_every_public_route(gateway_settings):
    routes = public_routes(gateway_settings)
    assert ("POST", "/api/payments/intents") in routes
    assert ("PUT", "/api/notifications/preferences") in routes
    assert ("GET", "/api/notifications/unsubscribe") in routes
    assert len(routes) >= 30


@pytest.mark.parametrize(("params", "field"), [
    ({"creator_id": NUL}, "creator_id"),
    ({"amount_min": str(TOO_BIG)}, "amount_min"),
    ({"limit": str(-TOO_BIG - 1)}, "limit"),
    ({"cursor": "\x00"}, "cursor"),
])
async def test_every_route_refuses_an_unstorable_query_value(gateway, gateway_settings, fake_service: FakeService,
                                                             params, field):
    for method, path in public_routes(gateway_settings):
        kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        assert_refused_naming(await probe(gateway, gateway_settings, method, path, params=params, **kwargs),
                              400, field)
    assert fake_service.seen == []


@pytest.mark.parametrize(("body", "field"), [
    ({"creator_id": NUL, "price_minor": 100, "currency": "EUR"}, "creator_id"),
    ({"price_minor": TOO_BIG, "amount_minor": TOO_BIG, "currency": "EUR"}, "amount_minor"),
    ({"preferences": [{"type": "PAYOUT_PAID", "email": False}, {"type": "x\ud800"}]}, "preferences[1].type"),
    ({"reason": {"deep": [1, -TOO_BIG - 1]}}, "reason.deep[1]"),
    ({"bad\x00name": 1}, "bad\x00name"),
])
async def test_every_route_with_a_body_refuses_an_unstorable_value_naming_the_field(
    gateway, gateway_settings, fake_service: FakeService, body, field
):
    raw = json.dumps(body).encode()
    for method, path in public_routes(gateway_settings, reading_a_body=True):
        if method not in ("POST", "PUT", "PATCH"):
            continue
        answers = await probe(gateway, gateway_settings, method, path, content=raw,
                              headers={"Content-Type": "application/json"})
        if field == "amount_minor":  # two fields out of range: either may be named first
            field_named = {a.json()["extra"][0]["key"] for a in answers if a.status_code == 400}
            assert field_named <= {"price_minor", "amount_minor"} and field_named
            continue
        assert_refused_naming(answers, 400, field)
    assert fake_service.seen == []


@pytest.mark.parametrize("header", ["Idempotency-Key", "Accept"])
async def test_every_route_refuses_a_passed_on_header_that_is_not_ascii(gateway, gateway_settings,
                                                                       fake_service: FakeService, header):
    for method, path in public_routes(gateway_settings):
        kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        answers = await probe(gateway, gateway_settings, method, path, headers={header: "cl\xe9".encode("latin-1")},
                              **kwargs)
        assert_refused_naming(answers, 400, header)
    assert fake_service.seen == []


async def test_a_json_body_sent_as_another_content_type_is_415(gateway, gateway_settings, fake_service):
    for method, path in public_routes(gateway_settings, reading_a_body=True):
        if method not in ("POST", "PUT", "PATCH"):
            continue
        for content_type in ("text/plain", "application/x-www-form-urlencoded", ""):
            answers = await probe(gateway, gateway_settings, method, path, content=b'{"currency": "EUR"}',
                                  headers={"Content-Type": content_type})
            assert_refused_naming(answers, 415, "")
    assert fake_service.seen == []


async def test_a_json_body_nested_too_deep_is_400(gateway, gateway_settings, fake_service):
    for depth in (40, 100_000):
        answers = await probe(gateway, gateway_settings, "PUT", "/api/notifications/preferences",
                              content=b"[" * depth + b"]" * depth, headers={"Content-Type": "application/json"})
        assert {a.status_code for a in answers} == {400}
    assert fake_service.seen == []


async def test_storable_values_still_pass(gateway, gateway_settings, fake_service):
    request = {"amount_minor": 2**63 - 1, "currency": "EUR"}
    _, as_creator, _ = await probe(gateway, gateway_settings, "POST", "/api/payouts", json=request,
                                   headers={"Content-Type": "application/json; charset=utf-8"})
    rejection = {"reason": "créatrice ✓, 名前"}
    *_, as_admin = await probe(gateway, gateway_settings, "POST", "/api/admin/payouts/x1/reject", json=rejection)
    assert (as_creator.status_code, as_admin.status_code) == (200, 200)
    assert [json.loads(seen.body) for seen in fake_service.seen] == [request, rejection]
