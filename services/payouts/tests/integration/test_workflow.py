"""The payout workflow against real PostgreSQL, Kafka and stripe-mock: the
ledger's answers and Stripe's webhooks are published on Kafka by the test."""

import asyncio
import os
import subprocess
import sys

from services.payouts.tests.integration.payouts_driver import Payouts, eventually, headers, new_id, stripe_event
from tests.support.stripe_recording import RecordingStripeHttp


def _verify_audit() -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "payouts", "verify-audit"], env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)


async def test_a_connected_account_is_created_once_as_express_with_manual_payouts(
    payouts: Payouts, stripe_http: RecordingStripeHttp
) -> None:
    creator = new_id("creator")
    first = await payouts.client.post("/payouts/account", headers=headers(creator, "creator"))
    again = await payouts.client.post("/payouts/account", headers=headers(creator, "creator"))
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["stripe_account_id"] == again.json()["stripe_account_id"]
    assert first.json()["onboarding_url"].startswith("https://")
    [created] = stripe_http.with_key(f"account:{creator}")
    assert created.url.endswith("/v1/accounts")
    assert created.params["controller[stripe_dashboard][type]"] == "express"
    assert created.params["controller[fees][payer]"] == "application"
    assert created.params["controller[losses][payments]"] == "application"
    assert created.params["capabilities[transfers][requested]"] == "true"
    assert created.params["settings[payouts][schedule][interval]"] == "manual"
    assert "type" not in created.params

    # stripe-mock's fixture account cannot receive payouts yet: requests are refused.
    refused = await payouts.client.post("/payouts", json={"amount_minor": 5000, "currency": "EUR"},
                                        headers=headers(creator, "creator"))
    assert refused.status_code == 409
    assert refused.json()["reason"] == "payouts_disabled"
    nobody = await payouts.client.post("/payouts", json={"amount_minor": 5000, "currency": "EUR"},
                                       headers=headers(new_id("creator"), "creator"))
    assert nobody.status_code == 409 and nobody.json()["reason"] == "payout_account_missing"


async def test_account_updated_keeps_the_flags_current_and_a_stale_one_does_not_win(payouts: Payouts) -> None:
    creator, account = await payouts.onboarded_creator()
    current = stripe_event("account.updated", {"id": account, "payouts_enabled": False,
                                                "requirements": {"currently_due": ["external_account"],
                                                                 "disabled_reason": "requirements.past_due"}},
                           account=account)
    stale = stripe_event("account.updated", {"id": account, "payouts_enabled": True}, account=account)
    stale = stale.model_copy(update={"data": stale.data.model_copy(update={"created": current.data.created - 60})})
    await payouts.publish(current, stale)

    async def disabled() -> dict | None:
        view = (await payouts.client.get("/payouts/account", headers=headers(creator, "creator"))).json()
        return view if not view["payouts_enabled"] else None

    view = await eventually(disabled, "payouts disabled")
    assert view["requirements"]["currently_due"] == ["external_account"]
    refused = await payouts.client.post("/payouts", json={"amount_minor": 5000, "currency": "EUR"},
                                        headers=headers(creator, "creator"))
    assert refused.status_code == 409
    assert "requirements.past_due" in refused.json()["detail"]


async def test_request_reserve_approve_paid_with_transfer_payout_and_a_valid_audit_chain(
    payouts: Payouts, stripe_http: RecordingStripeHttp
) -> None:
    creator, account = await payouts.onboarded_creator()
    payout = await payouts.request(creator, 17_000)
    assert payout["status"] == "REQUESTED" and not payout["funds_reserved"]
    payout_id = payout["payout_id"]
    await payouts.reserve(payout, gross=17_000, debt=2_000)

    approved = await payouts.approve(payout_id)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "PROCESSING"

    [transfer] = stripe_http.with_key(f"transfer:{payout_id}")
    assert transfer.url.endswith("/v1/transfers")
    assert transfer.params == {
        "amount": "15000", "currency": "eur", "destination": account, "transfer_group": f"payout_{payout_id}",
        "metadata[payout_id]": payout_id,
    }
    assert "Stripe-Account" not in transfer.headers  # a platform call
    [bank_payout] = stripe_http.with_key(f"payout:{payout_id}")
    assert bank_payout.url.endswith("/v1/payouts")
    assert bank_payout.headers["Stripe-Account"] == account
    assert bank_payout.params["amount"] == "15000"

    stripe_payout_id = approved.json()["stripe_payout_id"]
    await payouts.publish(stripe_event("payout.paid", {"id": stripe_payout_id, "object": "payout",
                                                       "status": "paid", "metadata": {"payout_id": payout_id}},
                                       account=account))
    paid = await payouts.wait_for(payout_id, lambda p: p["status"] == "PAID", "paid")
    assert paid["net_minor"] == 15_000 and paid["debt_deducted_minor"] == 2_000

    audit = (await payouts.client.get(f"/admin/payouts/{payout_id}/audit", headers=headers("a", "admin"))).json()
    trail = [(row["old_state"], row["new_state"], row["actor_role"]) for row in audit["items"]]
    assert trail == [(None, "REQUESTED", "creator"), ("REQUESTED", "APPROVED", "admin"),
                     ("APPROVED", "PROCESSING", "system"), ("PROCESSING", "PAID", "stripe")]
    assert audit["items"][2]["metadata"]["stripe_transfer_id"] == paid["stripe_transfer_id"]
    assert audit["items"][2]["metadata"]["stripe_payout_id"] == stripe_payout_id
    assert all(row["hash"] for row in audit["items"])
    assert audit["chain"] == {"intact": True, "broken_at_seq": None, "problem": None}
    topics = [topic for topic, _ in await payouts.events(creator)]
    assert topics == ["payout.requested", "payout.approved", "payout.processing", "payout.paid"]
    verified = _verify_audit()
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def _paid(payouts: Payouts, stripe_http: RecordingStripeHttp) -> tuple[str, str, dict]:
    creator, account = await payouts.onboarded_creator()
    payout = await payouts.request(creator, 20_000)
    await payouts.reserve(payout)
    approved = await payouts.approve(payout["payout_id"])
    assert approved.status_code == 200, approved.text
    return creator, account, approved.json()


async def test_payout_failed_after_paid_fails_it_and_reverses_the_transfer_once(
    payouts: Payouts, stripe_http: RecordingStripeHttp
) -> None:
    creator, account, processing = await _paid(payouts, stripe_http)
    payout_id, po = processing["payout_id"], processing["stripe_payout_id"]
    await payouts.publish(stripe_event("payout.paid", {"id": po, "status": "paid"}, account=account))
    await payouts.wait_for(payout_id, lambda p: p["status"] == "PAID", "paid")

    failed = {"id": po, "status": "failed", "failure_code": "account_closed",
              "failure_message": "The bank account has been closed."}
    # Days later the bank refuses it; Stripe then repeats the event (another evt id), and a late
    # duplicate of payout.paid arrives: neither changes anything.
    await payouts.publish(stripe_event("payout.failed", failed, account=account))
    result = await payouts.wait_for(payout_id, lambda p: p["status"] == "FAILED", "failed")
    await payouts.publish(stripe_event("payout.failed", failed, account=account),
                          stripe_event("payout.paid", {"id": po, "status": "paid"}, account=account))
    sentinel_creator, _ = await payouts.onboarded_creator()  # the consumers have moved past both
    assert sentinel_creator

    assert result["failure_code"] == "account_closed"
    assert result["failure_message"] == "The bank account has been closed."
    [reversal] = [r for r in stripe_http.requests if "/reversals" in r.url and payout_id in
                  r.headers.get("Idempotency-Key", "")]
    assert reversal.headers["Idempotency-Key"] == f"reversal:{payout_id}:{result['stripe_transfer_id']}"
    assert reversal.url.endswith(f"/v1/transfers/{result['stripe_transfer_id']}/reversals")
    assert (await payouts.get(payout_id))["status"] == "FAILED"
    events = await payouts.events(creator)
    assert [topic for topic, _ in events][-2:] == ["payout.paid", "payout.failed"]
    assert events[-1][1]["was_paid"] is True and events[-1][1]["failure_code"] == "account_closed"
    audit = (await payouts.client.get(f"/admin/payouts/{payout_id}/audit", headers=headers("a", "admin"))).json()
    assert [row["new_state"] for row in audit["items"]] == ["REQUESTED", "APPROVED", "PROCESSING", "PAID", "FAILED"]


async def test_payout_failed_while_processing_is_not_was_paid(payouts: Payouts, stripe_http: RecordingStripeHttp) -> None:
    creator, account, processing = await _paid(payouts, stripe_http)
    await payouts.publish(stripe_event("payout.failed", {"id": processing["stripe_payout_id"],
                                                         "failure_code": "no_account"}, account=account))
    await payouts.wait_for(processing["payout_id"], lambda p: p["status"] == "FAILED", "failed")
    topic, data = (await payouts.events(creator))[-1]
    assert topic == "payout.failed" and data["was_paid"] is False


async def test_fifty_concurrent_approvals_make_one_approval_and_one_transfer(
    payouts: Payouts, stripe_http: RecordingStripeHttp
) -> None:
    creator, _ = await payouts.onboarded_creator()
    payout = await payouts.request(creator, 20_000)
    await payouts.reserve(payout)
    payout_id = payout["payout_id"]
    answers = await asyncio.gather(*(payouts.approve(payout_id, admin=f"admin_{n}") for n in range(50)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) == {200, 409}
    assert all(a.json()["reason"] in ("approval_in_progress", "not_approvable") for a in answers if a.status_code == 409)
    assert len(stripe_http.with_key(f"transfer:{payout_id}")) == 1
    assert len(stripe_http.with_key(f"payout:{payout_id}")) == 1
    topics = [topic for topic, _ in await payouts.events(creator)]
    assert topics.count("payout.approved") == 1 and topics.count("payout.processing") == 1


async def test_approve_racing_cancel_lets_exactly_one_win(payouts: Payouts, stripe_http: RecordingStripeHttp) -> None:
    for _ in range(3):
        creator, _ = await payouts.onboarded_creator()
        payout = await payouts.request(creator, 20_000)
        await payouts.reserve(payout)
        payout_id = payout["payout_id"]
        approve, cancel = await asyncio.gather(
            payouts.approve(payout_id),
            payouts.client.post(f"/payouts/{payout_id}/cancel", headers=headers(creator, "creator")),
        )
        assert sorted([approve.status_code, cancel.status_code]) == [200, 409], (approve.text, cancel.text)
        final = await payouts.get(payout_id)
        transfers = stripe_http.with_key(f"transfer:{payout_id}")
        if cancel.status_code == 200:
            assert final["status"] == "CANCELED" and transfers == []
        else:
            assert final["status"] == "PROCESSING" and len(transfers) == 1


async def test_a_stripe_error_keeps_the_payout_approved_and_approving_again_resumes_with_the_same_keys(
    payouts: Payouts, stripe_http: RecordingStripeHttp
) -> None:
    creator, account = await payouts.onboarded_creator()
    payout = await payouts.request(creator, 20_000)
    await payouts.reserve(payout)
    payout_id = payout["payout_id"]
    stripe_http.refusals.append((400, {"error": {"type": "invalid_request_error", "code": "balance_insufficient",
                                                 "message": "Insufficient funds in your Stripe balance."}}))
    refused = await payouts.approve(payout_id)
    assert refused.status_code == 502
    assert refused.json()["code"] == "balance_insufficient"
    assert "Insufficient funds" not in refused.text  # Stripe's own words are never passed on
    stuck = await payouts.get(payout_id)
    assert stuck["status"] == "APPROVED"
    assert stuck["stripe_error_code"] == "balance_insufficient"
    assert stuck["stripe_error_message"] == "Stripe refused the call (balance_insufficient)"
    assert stripe_http.with_key(f"payout:{payout_id}") == []

    resumed = await payouts.approve(payout_id, admin="admin_2")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "PROCESSING" and resumed.json()["stripe_error_code"] is None
    assert len(stripe_http.with_key(f"transfer:{payout_id}")) == 2  # the refused try and the retry: one key
    assert len(stripe_http.with_key(f"payout:{payout_id}")) == 1
    again = await payouts.approve(payout_id)
    assert again.status_code == 409 and again.json()["reason"] == "not_approvable"
    topics = [topic for topic, _ in await payouts.events(creator)]
    assert topics.count("payout.approved") == 1


async def test_the_ledger_refusing_for_debt_blocks_and_for_anything_else_rejects(payouts: Payouts) -> None:
    creator, _ = await payouts.onboarded_creator()
    blocked = await payouts.request(creator, 20_000)
    rejected = await payouts.request(creator, 30_000)
    await payouts.refuse_funds(blocked, "debt_above_threshold")
    await payouts.refuse_funds(rejected, "insufficient_available")
    b = await payouts.wait_for(blocked["payout_id"], lambda p: p["status"] == "BLOCKED", "blocked")
    r = await payouts.wait_for(rejected["payout_id"], lambda p: p["status"] == "REJECTED", "rejected")
    assert b["reason"] == "debt_above_threshold" and r["reason"] == "insufficient_available"
    events = dict((data["payout_id"], (topic, data)) for topic, data in await payouts.events(creator)
                  if topic in ("payout.blocked", "payout.rejected"))
    assert events[blocked["payout_id"]][0] == "payout.blocked"
    assert events[rejected["payout_id"]][0] == "payout.rejected"
    assert events[rejected["payout_id"]][1]["actor_id"] == "system"
    assert (await payouts.approve(blocked["payout_id"])).status_code == 409


async def test_a_payout_wholly_taken_by_debt_is_paid_without_stripe(
    payouts: Payouts, stripe_http: RecordingStripeHttp
) -> None:
    creator, _ = await payouts.onboarded_creator()
    payout = await payouts.request(creator, None)  # all available
    before = len(stripe_http.requests)
    await payouts.reserve(payout, gross=6_000, debt=6_000)
    paid = await payouts.wait_for(payout["payout_id"], lambda p: p["status"] == "PAID", "paid")
    assert paid["net_minor"] == 0 and paid["stripe_payout_id"] is None
    assert len(stripe_http.requests) == before
    topic, data = (await payouts.events(creator))[-1]
    assert topic == "payout.paid" and data["stripe_payout_id"] is None and data["net_minor"] == 0


async def test_the_same_idempotency_key_gives_the_same_payout_and_another_body_is_refused(payouts: Payouts) -> None:
    creator, _ = await payouts.onboarded_creator()
    key = {"Idempotency-Key": new_id("click")}
    body = {"amount_minor": 12_000, "currency": "EUR"}
    first, second = await asyncio.gather(
        *(payouts.client.post("/payouts", json=body, headers={**headers(creator, "creator"), **key}) for _ in range(2))
    )
    assert sorted([first.status_code, second.status_code]) == [200, 201]
    assert first.json()["payout_id"] == second.json()["payout_id"]
    other = await payouts.client.post("/payouts", json={**body, "amount_minor": 13_000},
                                      headers={**headers(creator, "creator"), **key})
    assert other.status_code == 409 and other.json()["reason"] == "idempotency_key_reused"
    topics = [topic for topic, _ in await payouts.events(creator)]
    assert topics == ["payout.requested"]


async def test_bad_input_is_refused_with_problem_details_and_moves_nothing(payouts: Payouts) -> None:
    creator, _ = await payouts.onboarded_creator()
    as_creator = headers(creator, "creator")
    cases = [
        ({"amount_minor": -100, "currency": "EUR"}, 422, "invalid_amount"),
        ({"amount_minor": 0, "currency": "EUR"}, 422, "invalid_amount"),
        ({"amount_minor": 999, "currency": "EUR"}, 422, "below_minimum"),
        ({"amount_minor": 5000, "currency": "USD"}, 422, "currency_mismatch"),
        ({"amount_minor": 5000, "all": True, "currency": "EUR"}, 422, "invalid_amount"),
    ]
    for body, status, reason in cases:
        response = await payouts.client.post("/payouts", json=body, headers=as_creator)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["reason"] == reason
    for body in ({"amount_minor": "5000", "currency": "EUR"}, {"amount_minor": 50.5, "currency": "EUR"},
                 {"amount_minor": 5000, "currency": "EURO"}, {"amount_minor": 5000}):
        response = await payouts.client.post("/payouts", json=body, headers=as_creator)
        assert response.status_code == 400, (body, response.text)
    assert await payouts.events(creator) == []

    unknown = "00000000-0000-0000-0000-000000000000"
    assert (await payouts.approve(unknown)).status_code == 404
    assert (await payouts.client.post(f"/payouts/{unknown}/cancel", headers=as_creator)).status_code == 404

    payout = await payouts.request(creator, 20_000)
    early = await payouts.approve(payout["payout_id"])
    assert early.status_code == 409 and early.json()["reason"] == "awaiting_funds"
    await payouts.reserve(payout)
    for body in ({}, {"reason": "   "}):
        no_reason = await payouts.client.post(f"/admin/payouts/{payout['payout_id']}/reject", json=body,
                                              headers=headers("admin_1", "admin"))
        assert no_reason.status_code == 422 and no_reason.json()["reason"] == "reason_required"
    assert (await payouts.approve(payout["payout_id"])).status_code == 200
    twice = await payouts.approve(payout["payout_id"])
    assert twice.status_code == 409 and twice.json()["reason"] == "not_approvable"


async def test_only_admins_decide_and_never_on_their_own_payouts(payouts: Payouts) -> None:
    creator, _ = await payouts.onboarded_creator()
    payout = await payouts.request(creator, 20_000)
    await payouts.reserve(payout)
    payout_id = payout["payout_id"]
    for role in ("fan", "creator"):
        response = await payouts.client.post(f"/admin/payouts/{payout_id}/approve", headers=headers(creator, role))
        assert response.status_code == 403
    own = await payouts.approve(payout_id, admin=creator)
    assert own.status_code == 403 and own.json()["reason"] == "separation_of_duties"
    other = new_id("creator")
    assert (await payouts.client.get(f"/payouts/{payout_id}", headers=headers(other, "creator"))).status_code == 404
    stolen = await payouts.client.post(f"/payouts/{payout_id}/cancel", headers=headers(other, "creator"))
    assert stolen.status_code == 404
    rejected = await payouts.client.post(f"/admin/payouts/{payout_id}/reject", json={"reason": "looks like fraud"},
                                         headers=headers("admin_1", "admin"))
    assert rejected.status_code == 200 and rejected.json()["status"] == "REJECTED"
    topic, data = (await payouts.events(creator))[-1]
    assert topic == "payout.rejected" and data["reason"] == "looks like fraud" and data["actor_id"] == "admin_1"


async def test_the_owner_cancels_a_reserved_request(payouts: Payouts) -> None:
    creator, _ = await payouts.onboarded_creator()
    payout = await payouts.request(creator, 20_000)
    await payouts.reserve(payout)
    canceled = await payouts.client.post(f"/payouts/{payout['payout_id']}/cancel", headers=headers(creator, "creator"))
    assert canceled.status_code == 200 and canceled.json()["status"] == "CANCELED"
    again = await payouts.client.post(f"/payouts/{payout['payout_id']}/cancel", headers=headers(creator, "creator"))
    assert again.status_code == 409 and again.json()["reason"] == "not_cancelable"
    topic, data = (await payouts.events(creator))[-1]
    assert topic == "payout.canceled" and data["actor_id"] == creator and data["amount_minor"] == 20_000
