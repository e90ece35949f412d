"""Payout routes against a fake payouts service over real HTTP (no Kafka): what
is forwarded where, with which identity and headers, who may call what, and
which routes count against the sensitive rate limit."""

import asyncio
import json
from urllib.parse import parse_qsl

import pytest

from .conftest import serving
from .test_api import bearer

PAYOUT = "6f1c1d2e-8a4b-4c1e-9f0a-2b3c4d5e6f70"

# (role, method, public path, internal path, JSON body or None)
ROUTES = [
    ("creator", "POST", "/api/payouts/account", "/payouts/account", None),
    ("creator", "GET", "/api/payouts/account", "/payouts/account", None),
    ("creator", "POST", "/api/payouts", "/payouts", {"amount_minor": 17000, "currency": "EUR"}),
    ("creator", "GET", "/api/payouts", "/payouts", None),
    ("creator", "GET", f"/api/payouts/{PAYOUT}", f"/payouts/{PAYOUT}", None),
    ("creator", "POST", f"/api/payouts/{PAYOUT}/cancel", f"/payouts/{PAYOUT}/cancel", None),
    ("admin", "GET", "/api/admin/payouts", "/admin/payouts", None),
    ("admin", "GET", "/api/admin/payouts/stats", "/admin/payouts/stats", None),
    ("admin", "POST", f"/api/admin/payouts/{PAYOUT}/approve", f"/admin/payouts/{PAYOUT}/approve", None),
    ("admin", "POST", f"/api/admin/payouts/{PAYOUT}/reject", f"/admin/payouts/{PAYOUT}/reject",
     {"reason": "bank details look wrong"}),
    ("admin", "POST", f"/api/admin/payouts/{PAYOUT}/void", f"/admin/payouts/{PAYOUT}/void",
     {"reason": "no bank account at Stripe"}),
    ("admin", "GET", f"/api/admin/payouts/{PAYOUT}/audit", f"/admin/payouts/{PAYOUT}/audit", None),
]
# A creator's own reads (account, one payout) are open to admins too.
CREATOR_ONLY = [r for r in ROUTES if r[0] == "creator" and not (r[1] == "GET" and r[2] != "/api/payouts")]
ADMIN_ONLY = [r for r in ROUTES if r[0] == "admin"]


def _ids(routes):
    return [f"{method} {public}" for _, method, public, _, _ in routes]


@pytest.mark.parametrize(("role", "method", "public", "internal", "body"), ROUTES, ids=_ids(ROUTES))
async def test_each_route_reaches_its_internal_path_with_the_callers_identity(
    gateway, gateway_settings, fake_service, role, method, public, internal, body
):
    answer = {"payout_id": PAYOUT, "status": "REQUESTED"}
    fake_service.reply(internal, 200, answer)
    response = await gateway.request(method, public, json=body, headers=bearer(gateway_settings, f"{role}-1", role))
    assert response.status_code == 200
    assert response.json() == answer
    [call] = fake_service.seen
    assert (call.method, call.path) == (method, internal)
    assert (call.identity.user_id, call.identity.role) == (f"{role}-1", role)
    assert call.audience == "payouts"
    assert (json.loads(call.body) if call.body else None) == body


async def test_a_payout_request_carries_the_callers_idempotency_key(gateway, gateway_settings, fake_service):
    fake_service.reply("/payouts", 201, {"payout_id": PAYOUT})
    who = bearer(gateway_settings, "creator-1", "creator")
    body = {"all": True, "currency": "EUR"}
    keyed = await gateway.post("/api/payouts", json=body, headers=who | {"Idempotency-Key": "click-42"})
    unkeyed = await gateway.post("/api/payouts", json=body, headers=who)
    assert (keyed.status_code, unkeyed.status_code) == (201, 201)
    first, second = fake_service.seen
    assert first.headers["idempotency-key"] == "click-42"
    assert "idempotency-key" not in second.headers
    assert json.loads(first.body) == body


async def test_an_idempotency_key_cannot_override_the_identity_headers(gateway, gateway_settings, fake_service):
    who = bearer(gateway_settings, "creator-1", "creator")
    spoofed = who | {"Idempotency-Key": "k-1", "X-User-Id": "creator-2", "X-User-Role": "admin",
                     "X-Callastar-Identity": "guess"}
    await gateway.post("/api/payouts", json={"amount_minor": 1000, "currency": "EUR"}, headers=spoofed)
    [call] = fake_service.seen
    assert (call.identity.user_id, call.identity.role) == ("creator-1", "creator")
    assert call.audience == "payouts"


async def test_an_oversized_idempotency_key_is_refused_at_the_edge(gateway, gateway_settings, fake_service):
    response = await gateway.post("/api/payouts", json={"amount_minor": 1000, "currency": "EUR"},
                                  headers=bearer(gateway_settings, "creator-1", "creator")
                                  | {"Idempotency-Key": "k" * 201})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert fake_service.seen == []


@pytest.mark.parametrize("role", ["fan", "admin"])
@pytest.mark.parametrize(("_", "method", "public", "internal", "body"), CREATOR_ONLY, ids=_ids(CREATOR_ONLY))
async def test_creator_routes_refuse_other_roles(gateway, gateway_settings, fake_service, role, _, method, public,
                                                 internal, body):
    response = await gateway.request(method, public, json=body, headers=bearer(gateway_settings, f"{role}-1", role))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert fake_service.seen == []


@pytest.mark.parametrize("role", ["fan", "creator"])
@pytest.mark.parametrize(("_", "method", "public", "internal", "body"), ADMIN_ONLY, ids=_ids(ADMIN_ONLY))
async def test_admin_routes_refuse_fans_and_creators(gateway, gateway_settings, fake_service, role, _, method, public,
                                                     internal, body):
    response = await gateway.request(method, public, json=body, headers=bearer(gateway_settings, f"{role}-1", role))
    assert response.status_code == 403
    assert fake_service.seen == []


async def test_a_fan_cannot_see_payout_accounts_or_payouts(gateway, gateway_settings, fake_service):
    who = bearer(gateway_settings, "fan-1", "fan")
    statuses = [(await gateway.get(path, headers=who)).status_code
                for path in ("/api/payouts/account", f"/api/payouts/{PAYOUT}")]
    assert statuses == [403, 403]
    assert fake_service.seen == []


async def test_an_admin_reads_a_creators_account_and_any_payout(gateway, gateway_settings, fake_service):
    who = bearer(gateway_settings, "admin-1", "admin")
    account = await gateway.get("/api/payouts/account", params={"creator_id": "creator-7"}, headers=who)
    payout = await gateway.get(f"/api/payouts/{PAYOUT}", headers=who)
    assert (account.status_code, payout.status_code) == (200, 200)
    assert [(s.path, s.query, s.identity.role) for s in fake_service.seen] == [
        ("/payouts/account", "creator_id=creator-7", "admin"), (f"/payouts/{PAYOUT}", "", "admin"),
    ]


async def test_the_services_refusal_is_passed_through_as_problem_details(gateway, gateway_settings, fake_service):
    problem = {"status": 403, "title": "SelfApproval", "reason": "separation_of_duties",
               "detail": "an admin cannot approve a payout they requested or that pays them"}
    fake_service.reply(f"/admin/payouts/{PAYOUT}/approve", 403, problem, "application/problem+json")
    response = await gateway.post(f"/api/admin/payouts/{PAYOUT}/approve",
                                  headers=bearer(gateway_settings, "admin-1", "admin"))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == problem


@pytest.mark.parametrize(("public", "internal"), [("/api/payouts", "/payouts"),
                                                  ("/api/admin/payouts", "/admin/payouts"),
                                                  ("/api/admin/payouts/stats", "/admin/payouts/stats")])
async def test_list_filters_pass_through_as_sent(gateway, gateway_settings, fake_service, public, internal):
    fake_service.reply(internal, 200, {"items": [], "next_cursor": None})
    role = "creator" if public == "/api/payouts" else "admin"
    query = [("status", "paid"), ("status", "failed"), ("creator_id", "creator-7"),
             ("created_from", "2026-01-01T00:00:00+00:00"), ("amount_min", "1000"), ("sort", "amount"),
             ("order", "asc"), ("cursor", "abc")]
    response = await gateway.get(public, params=query, headers=bearer(gateway_settings, f"{role}-1", role))
    assert response.status_code == 200
    [call] = fake_service.seen
    assert (call.path, parse_qsl(call.query)) == (internal, query)


async def test_payouts_csv_is_streamed_through_with_its_headers(gateway, gateway_settings, fake_service):
    last_chunk = asyncio.Event()
    header = b"payout_id,creator_id,status\r\n"
    rows = [b"p1,creator-1,PAID\r\n", b"p2,creator-2,FAILED\r\n"]
    disposition = 'attachment; filename="payouts.csv"'
    fake_service.reply_in_chunks("/admin/payouts", [header, *rows], "text/csv; charset=utf-8",
                                 {"Content-Disposition": disposition}, hold_last_chunk=last_chunk)
    received = b""
    try:
        async with gateway.stream("GET", "/api/admin/payouts", params={"format": "csv", "status": "PAID"},
                                  headers=bearer(gateway_settings, "admin-1", "admin")) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/csv; charset=utf-8"
            assert response.headers["content-disposition"] == disposition
            chunks = response.aiter_raw()
            while received != header + rows[0]:  # the first rows arrive while the service holds the last
                received += await asyncio.wait_for(anext(chunks), timeout=5)
            last_chunk.set()
            async for chunk in chunks:
                received += chunk
    finally:
        last_chunk.set()
    assert received == header + b"".join(rows)
    [call] = fake_service.seen
    assert call.query == "format=csv&status=PAID"


@pytest.mark.parametrize("public", ["/api/payouts/..%2Fadmin/cancel", "/api/admin/payouts/..%2F..%2Fx/approve"])
async def test_an_id_that_could_escape_the_path_is_not_forwarded(gateway, gateway_settings, fake_service, public):
    role = "admin" if "/admin/" in public else "creator"
    response = await gateway.post(public, json={}, headers=bearer(gateway_settings, f"{role}-1", role))
    assert response.status_code == 404
    assert fake_service.seen == []


async def test_requests_and_decisions_share_the_sensitive_limit_and_reads_do_not(gateway_settings, fake_service):
    settings = gateway_settings.model_copy(update={"sensitive_rate_limit_per_minute": 2})
    creator, admin = bearer(settings, "creator-1", "creator"), bearer(settings, "admin-1", "admin")
    other_admin = bearer(settings, "admin-2", "admin")
    body = {"amount_minor": 1000, "currency": "EUR"}
    fake_service.reply("/payouts", 201, {"payout_id": PAYOUT})
    async with serving(settings) as gateway:
        requests = [(await gateway.post("/api/payouts", json=body, headers=creator)).status_code for _ in range(3)]
        decisions = [
            (await gateway.post(f"/api/admin/payouts/{PAYOUT}/approve", headers=admin)).status_code,
            (await gateway.post(f"/api/admin/payouts/{PAYOUT}/reject", json={"reason": "r"},
                                headers=admin)).status_code,
            (await gateway.post(f"/api/admin/payouts/{PAYOUT}/approve", headers=admin)).status_code,
        ]
        another = await gateway.post(f"/api/admin/payouts/{PAYOUT}/approve", headers=other_admin)
        reads = [(await gateway.get(f"/api/payouts/{PAYOUT}", headers=creator)).status_code for _ in range(3)]
        cancels = [(await gateway.post(f"/api/payouts/{PAYOUT}/cancel", headers=creator)).status_code
                   for _ in range(3)]
    assert requests == [201, 201, 429]
    assert decisions == [200, 200, 429]
    assert another.status_code == 200
    assert reads == [200] * 3 and cancels == [200] * 3
