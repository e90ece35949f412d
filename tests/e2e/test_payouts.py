"""Payouts end to end through the gateway: a creator onboards (Connect webhook),
earns, asks; the ledger reserves over Kafka; an admin approves; the transfer and
the payout are made on stripe-mock; Stripe's signed Connect webhooks settle it.
Debts from refunds are deducted or block; failures give everything back."""

import os
import subprocess
import sys
import time
import uuid
from typing import Any

import asyncpg

from contracts.events.stripe import StripeEventReceived
from tests.support.polling import eventually
from tests.support.stripe_events import stripe_event

from .conftest import Gateway, new_id, payment_intent_succeeded

EUR = "EUR"


# ---- helpers -------------------------------------------------------------------


async def onboard(gateway: Gateway, creator: str) -> str:
    """A connected account for `creator` that Stripe (a signed Connect
    `account.updated`) says can receive payouts; its id."""
    created = await gateway.http.post("/api/payouts/account", headers=gateway.auth(creator, "creator"))
    assert created.status_code == 201, created.text
    assert created.json()["onboarding_url"].startswith("https://")
    account = created.json()["stripe_account_id"]
    enabled = stripe_event("account.updated", {
        "id": account, "object": "account", "payouts_enabled": True, "charges_enabled": True,
        "details_submitted": True, "requirements": {"currently_due": [], "past_due": [], "disabled_reason": None},
    }, account=account)
    assert (await gateway.send_webhook(enabled, connect=True)).status_code == 200

    async def ready() -> bool:
        view = await gateway.http.get("/api/payouts/account", headers=gateway.auth(creator, "creator"))
        return view.status_code == 200 and view.json()["payouts_enabled"]

    await eventually(ready)
    return account


async def balance_is(gateway: Gateway, creator: str, **expected: int) -> dict[str, Any]:
    """Wait until the creator's EUR balance shows `expected` (e.g. available_minor=17000)."""

    async def check() -> dict[str, Any] | None:
        current = (await gateway.balance(creator)).get(EUR, {})
        return current if all(current.get(k) == v for k, v in expected.items()) else None

    return await eventually(check)


async def earn(gateway: Gateway, creator: str, price_minor: int) -> dict[str, Any]:
    """A fan pays `price_minor` for the creator's offer (Stripe confirms it); the intent."""
    before = (await gateway.balance(creator)).get(EUR, {}).get("available_minor", 0)
    intent = await gateway.create_intent(new_id("fan"), creator, price_minor, EUR)
    assert (await gateway.send_webhook(payment_intent_succeeded(intent))).status_code == 200
    await balance_is(gateway, creator, available_minor=before + intent["amounts"]["creator_share_minor"])
    return intent


async def request_payout(gateway: Gateway, creator: str, amount_minor: int, key: str | None = None) -> dict[str, Any]:
    """A payout request answered 201. Payouts learns that the creator holds EUR from
    the ledger's `ledger.balance_changed`, which may lag the balance the gateway
    reads: until then the request is refused (nothing stored), so it is retried."""
    headers = gateway.auth(creator, "creator") | {"Idempotency-Key": key or str(uuid.uuid4())}
    body = {"amount_minor": amount_minor, "currency": EUR}

    async def created() -> dict[str, Any] | None:
        response = await gateway.http.post("/api/payouts", json=body, headers=headers)
        if response.status_code == 422 and response.json().get("reason") == "currency_mismatch":
            return None
        assert response.status_code == 201, response.text
        return response.json()

    return await eventually(created)


async def payout_where(gateway: Gateway, creator: str, payout_id: str, **expected: Any) -> dict[str, Any]:
    """Wait until the creator's view of the payout has the `expected` fields."""

    last: dict[str, Any] = {}

    async def check() -> dict[str, Any] | None:
        response = await gateway.http.get(f"/api/payouts/{payout_id}", headers=gateway.auth(creator, "creator"))
        assert response.status_code == 200, response.text
        last.update(response.json())
        return last if all(last.get(k) == v for k, v in expected.items()) else None

    try:
        return await eventually(check)
    except AssertionError as error:
        raise AssertionError(f"payout never had {expected}; last seen: {last}") from error


async def reserved_payout(gateway: Gateway, creator: str, amount_minor: int) -> dict[str, Any]:
    payout = await request_payout(gateway, creator, amount_minor)
    return await payout_where(gateway, creator, payout["payout_id"], status="REQUESTED", funds_reserved=True)


async def approve(gateway: Gateway, payout_id: str, admin: str | None = None) -> dict[str, Any]:
    response = await gateway.http.post(f"/api/admin/payouts/{payout_id}/approve",
                                       headers=gateway.auth(admin or new_id("admin"), "admin"))
    assert response.status_code == 200, response.text
    return response.json()


def stripe_payout_event(kind: str, payout: dict[str, Any], account: str, **fields: Any) -> dict[str, Any]:
    """A Connect `payout.paid` / `payout.failed` for the Stripe payout our approval made."""
    return stripe_event(kind, {
        "id": payout["stripe_payout_id"], "object": "payout", "amount": payout["net_minor"], "currency": "eur",
        "status": kind.removeprefix("payout."), "arrival_date": int(time.time()),
        "metadata": {"payout_id": payout["payout_id"]}, **fields,
    }, account=account)


async def refund(gateway: Gateway, intent: dict[str, Any], amount_minor: int) -> dict[str, Any]:
    response = await gateway.http.post(
        f"/api/payments/{intent['payment_id']}/refunds",
        json={"amount_minor": amount_minor, "currency": EUR, "reason": "requested_by_customer"},
        headers=gateway.auth(new_id("admin"), "admin"),
    )
    assert response.status_code == 202, response.text
    return response.json()


async def debts(gateway: Gateway, creator: str) -> list[dict[str, Any]]:
    response = await gateway.http.get("/api/debts", headers=gateway.auth(creator, "creator"))
    assert response.status_code == 200, response.text
    return response.json()["debts"]


async def audit(gateway: Gateway, payout_id: str) -> list[dict[str, Any]]:
    response = await gateway.http.get(f"/api/admin/payouts/{payout_id}/audit",
                                      headers=gateway.auth(new_id("admin"), "admin"))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def payouts_applied(stack, *stripe_event_ids: str) -> bool:
    """True once payouts has applied (or ignored) these Stripe events: its inbox holds them."""
    ids = [StripeEventReceived.event_id_for(evt) for evt in stripe_event_ids]
    connection = await asyncpg.connect(stack.asyncpg_dsn("payouts"))
    try:
        return await connection.fetchval("SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", ids) == len(ids)
    finally:
        await connection.close()


def run_command(stack, *command: str) -> subprocess.CompletedProcess:
    """An operator command (`python -m payouts verify-audit`, `python -m ledger check`) against the stack."""
    return subprocess.run([sys.executable, "-m", *command], env={**os.environ, **stack.env},
                          capture_output=True, text=True, timeout=300)


async def paid_out(gateway: Gateway, creator: str, account: str, amount_minor: int) -> dict[str, Any]:
    """Request, reserve, approve and settle (signed `payout.paid`) a payout of `amount_minor`."""
    payout = await reserved_payout(gateway, creator, amount_minor)
    processing = await approve(gateway, payout["payout_id"])
    paid = stripe_payout_event("payout.paid", processing, account)
    assert (await gateway.send_webhook(paid, connect=True)).status_code == 200
    return await payout_where(gateway, creator, payout["payout_id"], status="PAID")


# ---- 1. the happy path ---------------------------------------------------------


async def test_payout_happy_path_from_earning_to_paid_with_an_audit_trail(gateway: Gateway, databases, stack) -> None:
    creator = new_id("creator")
    account = await onboard(gateway, creator)
    await earn(gateway, creator, 20000)
    await balance_is(gateway, creator, available_minor=17000, reserved_minor=0, debt_minor=0)

    payout = await request_payout(gateway, creator, 17000)
    assert (payout["status"], payout["requested_minor"], payout["currency"]) == ("REQUESTED", 17000, EUR)
    payout_id = payout["payout_id"]
    reserved = await payout_where(gateway, creator, payout_id, funds_reserved=True)
    assert (reserved["gross_minor"], reserved["debt_deducted_minor"], reserved["net_minor"]) == (17000, 0, 17000)
    await balance_is(gateway, creator, available_minor=0, reserved_minor=17000)

    approver = new_id("admin")
    processing = await approve(gateway, payout_id, approver)
    assert processing["status"] == "PROCESSING"
    assert processing["approved_by"] == approver
    assert processing["stripe_account_id"] == account
    assert processing["stripe_transfer_id"].startswith("tr_")
    assert processing["stripe_payout_id"].startswith("po_")

    paid = stripe_payout_event("payout.paid", processing, account)
    assert (await gateway.send_webhook(paid, connect=True)).status_code == 200
    done = await payout_where(gateway, creator, payout_id, status="PAID")
    assert done["paid_at"] is not None and done["net_minor"] == 17000
    await balance_is(gateway, creator, available_minor=0, reserved_minor=0, debt_minor=0)

    trail = await audit(gateway, payout_id)
    assert [(r["old_state"], r["new_state"], r["actor_role"]) for r in trail] == [
        (None, "REQUESTED", "creator"), ("REQUESTED", "APPROVED", "admin"),
        ("APPROVED", "PROCESSING", "system"), ("PROCESSING", "PAID", "stripe"),
    ]
    assert [r["actor_id"] for r in trail[:2]] == [creator, approver]
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in zip(trail, trail[1:]))
    verified = run_command(stack, "payouts", "verify-audit")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # the admin heard of the request, the creator of the approval and the payment
    async def admin_told() -> bool:
        return await databases["notifications"].fetchval(
            "SELECT count(*) FROM notifications WHERE recipient_role = 'admin' AND type = 'PAYOUT_REQUESTED'"
            " AND link = $1", f"/admin/payouts/{payout_id}") == 1

    await eventually(admin_told)

    async def creator_told() -> set[str]:
        listing = await gateway.http.get("/api/notifications", headers=gateway.auth(creator, "creator"))
        types = {n["type"] for n in listing.json()["items"]}
        return types if {"PAYOUT_APPROVED", "PAYOUT_PAID"} <= types else set()

    await eventually(creator_told)

    # the admin views see it
    admin = gateway.auth(new_id("admin"), "admin")
    listed = await gateway.http.get("/api/admin/payouts", params={"creator_id": creator, "status": "PAID"},
                                    headers=admin)
    assert [p["payout_id"] for p in listed.json()["items"]] == [payout_id]
    csv = await gateway.http.get("/api/admin/payouts", params={"creator_id": creator, "format": "csv"},
                                 headers=admin)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[1].startswith(f"{payout_id},{creator},PAID,EUR,17000,17000,0,17000")
    stats = await gateway.http.get("/api/admin/payouts/stats", params={"creator_id": creator}, headers=admin)
    assert stats.json()["stats"] == [{"status": "PAID", "currency": EUR, "count": 1, "amount_minor": 17000,
                                      "net_minor": 17000}]


# ---- 2. debt: blocked above the threshold, deducted below it -------------------


async def test_debt_above_threshold_blocks_then_is_deducted_from_a_later_payout(gateway: Gateway, stack) -> None:
    creator = new_id("creator")
    account = await onboard(gateway, creator)
    first = await earn(gateway, creator, 10000)  # share 85.00
    await paid_out(gateway, creator, account, 8500)
    await earn(gateway, creator, 2941)  # share ceil(29.41 * 0.85) = 25.00
    await balance_is(gateway, creator, available_minor=2500, reserved_minor=0)

    # the first payment refunded in full: its 85.00 share comes back, 25.00 from
    # available and 60.00 as debt, above the 50.00 threshold
    await refund(gateway, first, 10000)
    await balance_is(gateway, creator, available_minor=0, debt_minor=6000, payouts_blocked=True)
    [debt] = await debts(gateway, creator)
    assert (debt["amount_minor"], debt["remaining_minor"], debt["status"]) == (6000, 6000, "OPEN")

    blocked = await request_payout(gateway, creator, 1000)
    refused = await payout_where(gateway, creator, blocked["payout_id"], status="BLOCKED")
    assert refused["reason"] == "debt_above_threshold"
    assert "6000" in refused["reason_detail"]
    await balance_is(gateway, creator, available_minor=0, reserved_minor=0, debt_minor=6000)

    # more earnings, then a request: the debt is deducted and the rest paid
    await earn(gateway, creator, 10000)
    settled = await paid_out(gateway, creator, account, 8500)
    assert (settled["gross_minor"], settled["debt_deducted_minor"], settled["net_minor"]) == (8500, 6000, 2500)
    await balance_is(gateway, creator, available_minor=0, reserved_minor=0, debt_minor=0, payouts_blocked=False)
    [debt] = await debts(gateway, creator)
    assert (debt["remaining_minor"], debt["deducted_minor"], debt["status"]) == (0, 6000, "SETTLED")
    checked = run_command(stack, "ledger", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


# ---- 3. payout.failed, also after payout.paid; Connect vs platform endpoints ---


async def test_payout_failed_after_paid_gives_funds_and_debt_back(gateway: Gateway, stack) -> None:
    creator = new_id("creator")
    account = await onboard(gateway, creator)
    first = await earn(gateway, creator, 10000)
    await paid_out(gateway, creator, account, 8500)
    await earn(gateway, creator, 6470)  # share ceil(64.70 * 0.85) = 55.00
    await refund(gateway, first, 10000)  # 85.00 back: 55.00 from available, 30.00 debt (not blocking)
    await balance_is(gateway, creator, available_minor=0, debt_minor=3000, payouts_blocked=False)
    await earn(gateway, creator, 10000)

    paid = await paid_out(gateway, creator, account, 8500)
    assert (paid["debt_deducted_minor"], paid["net_minor"]) == (3000, 5500)
    await balance_is(gateway, creator, available_minor=0, reserved_minor=0, debt_minor=0)
    assert [d["status"] for d in await debts(gateway, creator)] == ["SETTLED"]

    # days later the bank returns it: Stripe sends payout.failed for the same payout
    failed = stripe_payout_event("payout.failed", paid, account, failure_code="account_closed",
                                 failure_message="The bank account has been closed.")
    assert (await gateway.send_webhook(failed, connect=True)).status_code == 200
    view = await payout_where(gateway, creator, paid["payout_id"], status="FAILED")
    assert (view["failure_code"], view["failure_message"]) == ("account_closed", "The bank account has been closed.")
    await balance_is(gateway, creator, available_minor=8500, reserved_minor=0, debt_minor=3000)
    [debt] = await debts(gateway, creator)
    assert (debt["remaining_minor"], debt["status"]) == (3000, "OPEN")

    trail = await audit(gateway, paid["payout_id"])
    assert [(r["old_state"], r["new_state"]) for r in trail][-2:] == [("PROCESSING", "PAID"), ("PAID", "FAILED")]
    assert trail[-1]["metadata"]["stripe_reversal_id"].startswith("trr_")
    assert trail[-1]["metadata"]["was_paid"] is True

    # a repeated payout.failed (a new Stripe event) and a late payout.paid change nothing
    again = stripe_payout_event("payout.failed", paid, account, failure_code="account_closed")
    late = stripe_payout_event("payout.paid", paid, account)
    for event in (again, late):
        assert (await gateway.send_webhook(event, connect=True)).status_code == 200
    await eventually(lambda: payouts_applied(stack, again["id"], late["id"]))
    assert len(await audit(gateway, paid["payout_id"])) == len(trail)
    assert (await payout_where(gateway, creator, paid["payout_id"]))["status"] == "FAILED"
    await balance_is(gateway, creator, available_minor=8500, reserved_minor=0, debt_minor=3000)


async def test_payout_failed_while_processing_returns_the_reservation(gateway: Gateway) -> None:
    creator = new_id("creator")
    account = await onboard(gateway, creator)
    await earn(gateway, creator, 20000)
    payout = await reserved_payout(gateway, creator, 12000)
    processing = await approve(gateway, payout["payout_id"])
    await balance_is(gateway, creator, available_minor=5000, reserved_minor=12000)

    failed = stripe_payout_event("payout.failed", processing, account, failure_code="no_account")
    assert (await gateway.send_webhook(failed, connect=True)).status_code == 200
    view = await payout_where(gateway, creator, payout["payout_id"], status="FAILED")
    assert view["failure_code"] == "no_account" and view["paid_at"] is None
    await balance_is(gateway, creator, available_minor=17000, reserved_minor=0, debt_minor=0)


async def test_connect_events_are_accepted_only_on_the_connect_endpoint(gateway: Gateway) -> None:
    creator = new_id("creator")
    account = await onboard(gateway, creator)
    await earn(gateway, creator, 20000)
    payout = await reserved_payout(gateway, creator, 17000)
    processing = await approve(gateway, payout["payout_id"])
    paid = stripe_payout_event("payout.paid", processing, account)
    connect_secret = gateway.env["CALLASTAR_STRIPE_CONNECT_WEBHOOK_SECRET"]

    on_platform = await gateway.send_webhook(paid, secret=connect_secret)
    platform_signed_on_connect = await gateway.send_webhook(paid, connect=True,
                                                            secret=gateway.env["CALLASTAR_STRIPE_WEBHOOK_SECRET"])
    for refused in (on_platform, platform_signed_on_connect):
        assert refused.status_code == 400
        assert refused.headers["content-type"].startswith("application/problem+json")
    # refused events were never published: the payout waits, then the right delivery settles it
    assert (await payout_where(gateway, creator, payout["payout_id"]))["status"] == "PROCESSING"
    assert (await gateway.send_webhook(paid, connect=True)).status_code == 200
    await payout_where(gateway, creator, payout["payout_id"], status="PAID")


# ---- 4. authorization ----------------------------------------------------------


async def test_creators_admins_and_fans_only_do_what_is_theirs(gateway: Gateway) -> None:
    owner, other = new_id("creator"), new_id("creator")
    await onboard(gateway, owner)
    await earn(gateway, owner, 20000)
    payout = await reserved_payout(gateway, owner, 10000)
    payout_id = payout["payout_id"]
    other_auth = gateway.auth(other, "creator")

    # another creator neither sees, lists nor cancels it, nor asks on the owner's behalf
    assert (await gateway.http.get(f"/api/payouts/{payout_id}", headers=other_auth)).status_code == 404
    assert (await gateway.http.post(f"/api/payouts/{payout_id}/cancel", headers=other_auth)).status_code == 404
    assert (await gateway.http.get("/api/payouts", headers=other_auth)).json()["items"] == []
    on_behalf = await gateway.http.post("/api/payouts", headers=other_auth,
                                        json={"amount_minor": 1000, "currency": EUR, "creator_id": owner})
    assert on_behalf.status_code == 400, on_behalf.text

    # fans and creators cannot decide, the owner included
    for who in (gateway.auth(new_id("fan"), "fan"), gateway.auth(owner, "creator"), other_auth):
        approve_response = await gateway.http.post(f"/api/admin/payouts/{payout_id}/approve", headers=who)
        reject_response = await gateway.http.post(f"/api/admin/payouts/{payout_id}/reject", headers=who,
                                                  json={"reason": "no"})
        assert (approve_response.status_code, reject_response.status_code) == (403, 403)
    fan_request = await gateway.http.post("/api/payouts", headers=gateway.auth(new_id("fan"), "fan"),
                                          json={"amount_minor": 1000, "currency": EUR})
    assert fan_request.status_code == 403

    # an admin whose id is the payee's cannot approve it (separation of duties)
    own = await gateway.http.post(f"/api/admin/payouts/{payout_id}/approve", headers=gateway.auth(owner, "admin"))
    assert own.status_code == 403
    assert own.json()["reason"] == "separation_of_duties"

    still = await payout_where(gateway, owner, payout_id)
    assert (still["status"], still["funds_reserved"]) == ("REQUESTED", True)
    await balance_is(gateway, owner, available_minor=7000, reserved_minor=10000)

    # the owner can cancel it: the reservation is released
    canceled = await gateway.http.post(f"/api/payouts/{payout_id}/cancel", headers=gateway.auth(owner, "creator"))
    assert canceled.status_code == 200 and canceled.json()["status"] == "CANCELED"
    await balance_is(gateway, owner, available_minor=17000, reserved_minor=0)


# ---- 5. bad input ----------------------------------------------------------------


async def test_bad_payout_input_gets_problem_details_and_moves_nothing(gateway: Gateway) -> None:
    creator = new_id("creator")
    account = await onboard(gateway, creator)
    await earn(gateway, creator, 20000)
    creator_auth = gateway.auth(creator, "creator")
    await request_payout(gateway, creator, 1000, key="probe")  # payouts knows the creator holds EUR
    probe = (await gateway.http.get("/api/payouts", headers=creator_auth)).json()["items"][0]
    await payout_where(gateway, creator, probe["payout_id"], funds_reserved=True)
    canceled = await gateway.http.post(f"/api/payouts/{probe['payout_id']}/cancel", headers=creator_auth)
    assert canceled.status_code == 200
    await balance_is(gateway, creator, available_minor=17000, reserved_minor=0)

    bad_requests = [
        ({"amount_minor": -500, "currency": EUR}, 422, "invalid_amount"),
        ({"amount_minor": 0, "currency": EUR}, 422, "invalid_amount"),
        ({"amount_minor": 999, "currency": EUR}, 422, "below_minimum"),
        ({"amount_minor": 5000, "currency": "USD"}, 422, "currency_mismatch"),
        ({"amount_minor": 5000, "currency": "EURO"}, 400, None),
        ({"amount_minor": "5000", "currency": EUR}, 400, None),
        ({"amount_minor": 50.5, "currency": EUR}, 400, None),
    ]
    for body, status, reason in bad_requests:
        response = await gateway.http.post("/api/payouts", json=body, headers=creator_auth)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), body
        if reason is not None:
            assert response.json()["reason"] == reason, body

    admin = gateway.auth(new_id("admin"), "admin")
    unknown = str(uuid.uuid4())
    for method, path in (("GET", f"/api/payouts/{unknown}"), ("POST", f"/api/payouts/{unknown}/cancel"),
                         ("POST", f"/api/admin/payouts/{unknown}/approve"),
                         ("GET", f"/api/admin/payouts/{unknown}/audit")):
        response = await gateway.http.request(method, path, headers=creator_auth if "admin" not in path else admin)
        assert response.status_code == 404, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), path

    payout = await reserved_payout(gateway, creator, 5000)
    payout_id = payout["payout_id"]
    no_reason = await gateway.http.post(f"/api/admin/payouts/{payout_id}/reject", json={}, headers=admin)
    blank_reason = await gateway.http.post(f"/api/admin/payouts/{payout_id}/reject", json={"reason": "  "},
                                           headers=admin)
    for response in (no_reason, blank_reason):
        assert response.status_code == 422, response.text
        assert response.json()["reason"] == "reason_required"
    assert (await payout_where(gateway, creator, payout_id))["status"] == "REQUESTED"

    processing = await approve(gateway, payout_id)
    twice = await gateway.http.post(f"/api/admin/payouts/{payout_id}/approve", headers=admin)
    assert twice.status_code == 409, twice.text
    assert twice.json()["reason"] == "not_approvable"
    late_reject = await gateway.http.post(f"/api/admin/payouts/{payout_id}/reject", json={"reason": "too late"},
                                          headers=admin)
    assert late_reject.status_code == 409
    assert len(await audit(gateway, payout_id)) == 3  # requested, approved, processing: nothing more

    # nothing moved beyond the one approved payout
    await balance_is(gateway, creator, available_minor=12000, reserved_minor=5000, debt_minor=0)
    listed = (await gateway.http.get("/api/payouts", headers=creator_auth)).json()["items"]
    assert sorted(p["status"] for p in listed) == ["CANCELED", "PROCESSING"]
    assert processing["stripe_account_id"] == account
