"""Refunds, the admin views of refunds and disputes, debts and notification
read marks, against a fake downstream service over real HTTP (no Kafka)."""

import asyncio
import json
from urllib.parse import parse_qsl

import pytest

from .conftest import serving
from .test_api import bearer

ADMIN_VIEWS = [
    ("/api/admin/refunds", "/admin/refunds"),
    ("/api/admin/refunds/stats", "/admin/refunds/stats"),
    ("/api/admin/refunds/stuck", "/admin/refunds/stuck"),
    ("/api/admin/disputes", "/admin/disputes"),
    ("/api/admin/disputes/stats", "/admin/disputes/stats"),
]


async def test_admin_refund_is_forwarded_with_its_body_and_answers_202(gateway, gateway_settings, fake_service):
    refund = {"id": "ref_1", "status": "PENDING", "amount_minor": 4000, "currency": "EUR"}
    fake_service.reply("/payments/pay_1/refunds", 202, refund)
    body = {"amount_minor": 4000, "currency": "EUR", "reason": "requested_by_customer"}
    response = await gateway.post("/api/payments/pay_1/refunds", json=body,
                                  headers=bearer(gateway_settings, "admin-1", "admin"))
    assert response.status_code == 202
    assert response.json() == refund
    [call] = fake_service.seen
    assert (call.method, call.path) == ("POST", "/payments/pay_1/refunds")
    assert json.loads(call.body) == body
    assert (call.identity.user_id, call.identity.role) == ("admin-1", "admin")


async def test_refund_refused_by_payments_is_passed_through(gateway, gateway_settings, fake_service):
    problem = {"status": 422, "title": "Unprocessable Content", "detail": "only 60.00 EUR is left to refund"}
    fake_service.reply("/payments/pay_1/refunds", 422, problem, "application/problem+json")
    response = await gateway.post("/api/payments/pay_1/refunds", json={"amount_minor": 7000},
                                  headers=bearer(gateway_settings, "admin-1", "admin"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == problem


async def test_a_payments_refunds_are_listed_for_admins(gateway, gateway_settings, fake_service):
    fake_service.reply("/payments/pay_1/refunds", 200, {"items": [{"id": "ref_1"}]})
    response = await gateway.get("/api/payments/pay_1/refunds",
                                 headers=bearer(gateway_settings, "admin-1", "admin"))
    assert response.status_code == 200
    assert response.json() == {"items": [{"id": "ref_1"}]}
    assert [(s.method, s.path) for s in fake_service.seen] == [("GET", "/payments/pay_1/refunds")]


@pytest.mark.parametrize("role", ["fan", "creator"])
async def test_only_admins_refund_or_see_refunds(gateway, gateway_settings, fake_service, role):
    who = bearer(gateway_settings, f"{role}-1", role)
    posted = await gateway.post("/api/payments/pay_1/refunds", json={"amount_minor": 100}, headers=who)
    listed = await gateway.get("/api/payments/pay_1/refunds", headers=who)
    assert (posted.status_code, listed.status_code) == (403, 403)
    assert posted.headers["content-type"].startswith("application/problem+json")
    assert fake_service.seen == []


async def test_a_refund_on_an_id_that_could_escape_the_path_is_not_forwarded(gateway, gateway_settings, fake_service):
    response = await gateway.post("/api/payments/..%2Fadmin/refunds", json={},
                                  headers=bearer(gateway_settings, "admin-1", "admin"))
    assert response.status_code == 404
    assert fake_service.seen == []


async def test_refunds_are_rate_limited_per_admin_and_listing_is_not(gateway_settings, fake_service):
    fake_service.reply("/payments/pay_1/refunds", 202, {"id": "ref_1"})
    settings = gateway_settings.model_copy(update={"sensitive_rate_limit_per_minute": 2})
    first, second = bearer(settings, "admin-1", "admin"), bearer(settings, "admin-2", "admin")
    async with serving(settings) as gateway:
        statuses = [(await gateway.post("/api/payments/pay_1/refunds", json={}, headers=first)).status_code
                    for _ in range(3)]
        other_admin = await gateway.post("/api/payments/pay_1/refunds", json={}, headers=second)
        listings = [(await gateway.get("/api/payments/pay_1/refunds", headers=first)).status_code
                    for _ in range(3)]
    assert statuses == [202, 202, 429]
    assert other_admin.status_code == 202
    assert 429 not in listings
    assert [s.method for s in fake_service.seen].count("POST") == 3
    assert [s.method for s in fake_service.seen].count("GET") == 3


@pytest.mark.parametrize(("public", "internal"), ADMIN_VIEWS)
async def test_admin_views_pass_filters_through_as_sent(gateway, gateway_settings, fake_service, public, internal):
    fake_service.reply(internal, 200, {"items": [], "next_cursor": None})
    query = [("status", "succeeded"), ("status", "pending"), ("creator_id", "creator-7"),
             ("created_from", "2026-01-01T00:00:00+00:00"), ("min_amount_minor", "1000"),
             ("sort", "amount"), ("order", "asc"), ("cursor", "abc=")]
    response = await gateway.get(public, params=query, headers=bearer(gateway_settings, "admin-1", "admin"))
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}
    [call] = fake_service.seen
    assert call.path == internal
    assert parse_qsl(call.query) == query
    assert call.identity.role == "admin"


@pytest.mark.parametrize("public", ["/api/admin/refunds", "/api/admin/disputes", "/api/admin/payouts"])
@pytest.mark.parametrize(("name", "value"), [("sort", "-created_at"), ("limit", "0"), ("created_from", "yesterday"),
                                             ("amount_min", "-1"), ("currency", "EURO"), ("creator_id", "../x")])
async def test_admin_views_refuse_a_filter_unlike_the_published_one(
    gateway, gateway_settings, fake_service, public, name, value
):
    response = await gateway.get(public, params={name: value}, headers=bearer(gateway_settings, "admin-1", "admin"))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [issue["key"] for issue in response.json()["extra"]] == [name]
    assert fake_service.seen == []


@pytest.mark.parametrize("role", ["fan", "creator"])
async def test_admin_views_are_for_admins_only(gateway, gateway_settings, fake_service, role):
    for public, _ in ADMIN_VIEWS:
        response = await gateway.get(public, params={"format": "csv"},
                                     headers=bearer(gateway_settings, f"{role}-1", role))
        assert response.status_code == 403, public
    assert fake_service.seen == []


async def test_csv_export_is_streamed_through_with_its_headers(gateway, gateway_settings, fake_service):
    last_chunk = asyncio.Event()
    header = b"refund_id,status,amount,currency\r\n"
    rows = [b"ref_1,succeeded,40.00,EUR\r\n", b"ref_2,pending,12.50,EUR\r\n"]
    disposition = 'attachment; filename="refunds.csv"'
    fake_service.reply_in_chunks("/admin/refunds", [header, *rows], "text/csv; charset=utf-8",
                                 {"Content-Disposition": disposition}, hold_last_chunk=last_chunk)
    received = b""
    headers = bearer(gateway_settings, "admin-1", "admin") | {"Accept": "text/csv"}
    try:
        async with gateway.stream("GET", "/api/admin/refunds", params={"status": "succeeded"},
                                  headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/csv; charset=utf-8"
            assert response.headers["content-disposition"] == disposition
            chunks = response.aiter_raw()
            # The first rows reach the caller while the service still holds the last one.
            while received != header + rows[0]:
                received += await asyncio.wait_for(anext(chunks), timeout=5)
            last_chunk.set()
            async for chunk in chunks:
                received += chunk
    finally:
        last_chunk.set()  # never leave the fake service hanging
    assert received == header + b"".join(rows)
    [call] = fake_service.seen
    assert (call.query, call.headers["accept"]) == ("status=succeeded", "text/csv")


async def test_csv_by_query_parameter_keeps_its_content_type(gateway, gateway_settings, fake_service):
    csv = b"dispute_id,status,amount,currency\r\ndsp_1,lost,60.00,EUR\r\n"
    fake_service.reply("/admin/disputes", 200, csv, "text/csv; charset=utf-8",
                       {"Content-Disposition": 'attachment; filename="disputes.csv"'})
    response = await gateway.get("/api/admin/disputes", params={"format": "csv", "status": "lost"},
                                 headers=bearer(gateway_settings, "admin-1", "admin"))
    assert response.status_code == 200
    assert response.content == csv
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="disputes.csv"'
    assert fake_service.seen[0].query == "format=csv&status=lost"


async def test_a_failed_export_is_a_problem_not_a_partial_csv(gateway, gateway_settings, fake_service):
    fake_service.reply("/admin/disputes", 500, b"<html>Traceback</html>", "text/html")
    response = await gateway.get("/api/admin/disputes", params={"format": "csv"},
                                 headers=bearer(gateway_settings, "admin-1", "admin"))
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in response.text


async def test_a_creator_lists_their_own_debts(gateway, gateway_settings, fake_service):
    debts = {"items": [{"id": "debt_1", "cause_type": "refund", "amount_minor": 1250,
                        "remaining_minor": 1250, "currency": "EUR", "status": "OPEN"}]}
    fake_service.reply("/debts", 200, debts)
    who = bearer(gateway_settings, "creator-1", "creator")
    own = await gateway.get("/api/debts", headers=who)
    named = await gateway.get("/api/debts", params={"creator_id": "creator-1", "status": "OPEN"}, headers=who)
    other = await gateway.get("/api/debts", params={"creator_id": "creator-2"}, headers=who)
    assert (own.status_code, named.status_code, other.status_code) == (200, 200, 403)
    assert own.json() == debts
    assert [(s.path, s.query, s.identity.user_id) for s in fake_service.seen] == [
        ("/debts", "", "creator-1"),
        ("/debts", "creator_id=creator-1&status=OPEN", "creator-1"),
    ]


async def test_an_admin_lists_anyones_debts_or_filters_by_creator(gateway, gateway_settings, fake_service):
    admin = bearer(gateway_settings, "admin-1", "admin")
    assert (await gateway.get("/api/debts", headers=admin)).status_code == 200
    assert (await gateway.get("/api/debts", params={"creator_id": "creator-7"}, headers=admin)).status_code == 200
    assert [(s.path, s.query, s.identity.role) for s in fake_service.seen] == [
        ("/debts", "", "admin"), ("/debts", "creator_id=creator-7", "admin"),
    ]


async def test_fans_have_no_debts_to_see(gateway, gateway_settings, fake_service):
    response = await gateway.get("/api/debts", headers=bearer(gateway_settings, "fan-1", "fan"))
    assert response.status_code == 403
    assert fake_service.seen == []


async def test_marking_notifications_read_is_forwarded_for_the_caller(gateway, gateway_settings, fake_service):
    notification_id = "0b6c8e0e-5a51-4a37-9a0e-2f1f1f6f3a10"
    fake_service.reply(f"/notifications/{notification_id}/read", 200,
                       {"id": notification_id, "read_at": "2026-09-01T10:00:00+00:00"})
    fake_service.reply("/notifications/read-all", 200, {"marked": 4})
    who = bearer(gateway_settings, "admin-2", "admin")
    one = await gateway.patch(f"/api/notifications/{notification_id}/read", headers=who)
    every = await gateway.patch("/api/notifications/read-all", headers=who)
    assert one.json()["read_at"] == "2026-09-01T10:00:00+00:00"
    assert every.json() == {"marked": 4}
    assert [(s.method, s.path, s.identity.user_id) for s in fake_service.seen] == [
        ("PATCH", f"/notifications/{notification_id}/read", "admin-2"),
        ("PATCH", "/notifications/read-all", "admin-2"),
    ]


async def test_someone_elses_notification_is_a_404(gateway, gateway_settings, fake_service):
    problem = {"status": 404, "title": "Not Found", "detail": "no such notification"}
    fake_service.reply("/notifications/n-1/read", 404, problem, "application/problem+json")
    response = await gateway.patch("/api/notifications/n-1/read",
                                   headers=bearer(gateway_settings, "creator-1", "creator"))
    assert response.status_code == 404
    assert response.json() == problem
