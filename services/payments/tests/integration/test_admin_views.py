"""The admin lists of refunds and disputes against the real database: rows are
written straight into payments' tables, then read through the internal API."""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from payments.models import Dispute, Payment, Refund

DAY = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
async def creator(db) -> dict:
    """A creator with one payment, four refunds and three disputes on it."""
    creator_id = f"creator-{uuid.uuid4().hex[:8]}"
    payment_id = uuid.uuid4()
    refunds = [
        # amount, status, reason, days after DAY
        (4_000, "SUCCEEDED", "requested_by_customer", 0),
        (1_000, "PENDING", "duplicate", 1),
        (2_500, "SUCCEEDED", "=HYPERLINK(\"http://x\")", 2),
        (500, "FAILED", None, 3),
    ]
    disputes = [
        (6_000, "lost", "fraudulent", 0, "lost", 5_100),
        (3_000, "needs_response", "product_not_received", 1, None, 2_550),
        (1_500, "warning_needs_response", "general", 2, None, None),
    ]
    async with db.transaction() as session:
        session.add(Payment(id=payment_id, fan_id="fan-1", creator_id=creator_id, price_minor=20_000,
                            creator_share_minor=17_000, platform_fee_minor=3_000, currency="EUR", status="SUCCEEDED"))
        await session.flush()
        for amount, status, reason, days in refunds:
            session.add(Refund(payment_id=payment_id, amount_minor=amount, currency="EUR", status=status,
                               reason=reason, stripe_refund_id=f"re_{uuid.uuid4().hex[:14]}",
                               created_at=DAY + timedelta(days=days)))
        for amount, status, reason, days, outcome, share in disputes:
            session.add(Dispute(payment_id=payment_id, creator_id=creator_id,
                                stripe_dispute_id=f"dp_{uuid.uuid4().hex[:14]}", amount_minor=amount, currency="EUR",
                                status=status, reason=reason, observed_at=0, creator_share_minor=share,
                                taken_back_minor=amount if share else 0, closed=outcome is not None, outcome=outcome,
                                evidence_due_by=DAY + timedelta(days=10), created_at=DAY + timedelta(days=days)))
    return {"creator_id": creator_id, "payment_id": str(payment_id)}


async def get(client, as_user, path: str, **params):
    headers = params.pop("headers", None) or as_user("admin")
    return await client.get(path, params={k: v for k, v in params.items() if v is not None}, headers=headers)


async def test_refunds_filter_by_creator_status_and_amount_sorted_by_amount(client, as_user, creator):
    response = await get(client, as_user, "/admin/refunds", creator_id=creator["creator_id"], status="succeeded",
                         amount_min=1_000, sort="amount", order="asc")

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(r["amount_minor"], r["amount"], r["currency"], r["status"]) for r in items] == [
        (2_500, "25.00", "EUR", "SUCCEEDED"), (4_000, "40.00", "EUR", "SUCCEEDED")]
    assert {r["creator_id"] for r in items} == {creator["creator_id"]}
    assert response.json()["next_cursor"] is None


async def test_disputes_filter_by_reason_several_statuses_and_date_range(client, as_user, creator):
    by_status = await get(client, as_user, "/admin/disputes", status=["lost", "needs_response"],
                          creator_id=creator["creator_id"])
    by_reason = await get(client, as_user, "/admin/disputes", creator_id=creator["creator_id"], reason="general")
    by_dates = await get(client, as_user, "/admin/disputes", creator_id=creator["creator_id"],
                         created_from=(DAY + timedelta(days=1)).isoformat(), created_to=(DAY + timedelta(days=2)).isoformat())

    assert [d["status"] for d in by_status.json()["items"]] == ["needs_response", "lost"]  # newest first
    assert [d["amount"] for d in by_reason.json()["items"]] == ["15.00"]
    [only] = by_dates.json()["items"]
    assert (only["status"], only["creator_share_minor"], only["outcome"]) == ("needs_response", 2_550, None)


@pytest.mark.parametrize(("sort", "order"), [("created_at", "desc"), ("created_at", "asc"), ("amount", "desc"), ("amount", "asc")])
async def test_the_cursor_walks_every_row_once_in_order(client, as_user, creator, sort, order):
    seen, cursor = [], None
    while True:
        response = await get(client, as_user, "/admin/refunds", creator_id=creator["creator_id"], sort=sort,
                             order=order, limit=3, cursor=cursor)
        assert response.status_code == 200, response.text
        seen.extend(response.json()["items"])
        if (cursor := response.json()["next_cursor"]) is None:
            break

    key = "created_at" if sort == "created_at" else "amount_minor"
    values = [r[key] for r in seen]
    assert len(seen) == 4 and len({r["refund_id"] for r in seen}) == 4
    assert values == sorted(values, reverse=order == "desc")


async def test_a_cursor_from_another_sort_or_made_up_is_refused(client, as_user, creator):
    first = await get(client, as_user, "/admin/refunds", creator_id=creator["creator_id"], limit=1)
    cursor = first.json()["next_cursor"]

    other_sort = await get(client, as_user, "/admin/refunds", creator_id=creator["creator_id"], sort="amount",
                           cursor=cursor)
    made_up = await get(client, as_user, "/admin/refunds", cursor="bm90IGEgY3Vyc29y")

    assert (other_sort.status_code, made_up.status_code) == (400, 400)
    assert other_sort.json()["title"] == "Invalid cursor"


@pytest.mark.parametrize("how", ["query", "accept"])
async def test_the_disputes_export_is_a_csv_with_decimal_amounts(client, as_user, creator, how):
    if how == "query":
        response = await get(client, as_user, "/admin/disputes", creator_id=creator["creator_id"], format="csv",
                             sort="amount", order="desc")
    else:
        headers = as_user("admin") | {"Accept": "text/csv"}
        response = await get(client, as_user, "/admin/disputes", creator_id=creator["creator_id"], sort="amount",
                             order="desc", headers=headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["status"], r["amount"], r["currency"], r["creator_share"], r["outcome"]) for r in rows] == [
        ("lost", "60.00", "EUR", "51.00", "lost"),
        ("needs_response", "30.00", "EUR", "25.50", ""),
        ("warning_needs_response", "15.00", "EUR", "", ""),
    ]


async def test_the_refunds_export_neutralises_formulas(client, as_user, creator):
    response = await get(client, as_user, "/admin/refunds", creator_id=creator["creator_id"], format="csv",
                         sort="amount", order="asc")

    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["amount"] for r in rows] == ["5.00", "10.00", "25.00", "40.00"]
    assert rows[2]["reason"] == "'=HYPERLINK(\"http://x\")"


async def test_stats_count_and_sum_per_status(client, as_user, creator):
    refunds = await get(client, as_user, "/admin/refunds/stats", creator_id=creator["creator_id"])
    disputes = await get(client, as_user, "/admin/disputes/stats", creator_id=creator["creator_id"],
                         status="lost")

    assert refunds.json()["stats"] == [
        {"status": "FAILED", "count": 1, "amount_minor": 500, "currency": "EUR", "amount": "5.00"},
        {"status": "PENDING", "count": 1, "amount_minor": 1_000, "currency": "EUR", "amount": "10.00"},
        {"status": "SUCCEEDED", "count": 2, "amount_minor": 6_500, "currency": "EUR", "amount": "65.00"},
    ]
    assert disputes.json()["stats"] == [
        {"status": "lost", "count": 1, "amount_minor": 6_000, "currency": "EUR", "amount": "60.00"}]


@pytest.mark.parametrize("path", ["/admin/refunds", "/admin/disputes", "/admin/refunds/stats", "/admin/disputes/stats"])
async def test_only_admins_see_the_admin_views(client, as_user, path):
    for role in ("fan", "creator"):
        response = await client.get(path, headers=as_user(role))
        assert response.status_code == 403, (role, response.text)


@pytest.mark.parametrize("params", [{"amount_min": "-1"}, {"limit": "0"}, {"sort": "fan_id"}, {"amount_max": "1.5"},
                                    {"created_from": "2026-03-02T00:00:00Z", "created_to": "2026-03-01T00:00:00Z"}])
async def test_bad_filters_are_refused_with_a_problem(client, as_user, params):
    response = await client.get("/admin/disputes", params=params, headers=as_user("admin"))

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_no_match_is_an_empty_page(client, as_user):
    response = await get(client, as_user, "/admin/disputes", creator_id=f"nobody-{uuid.uuid4().hex[:6]}")

    assert response.json() == {"items": [], "next_cursor": None}
