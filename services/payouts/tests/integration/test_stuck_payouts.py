"""Payouts that used to have no way out (issue 11, section 4): an approver that
dies between its Stripe steps, a Stripe payout event read before its id was
stored, a payout Stripe cannot pay out, and a transfer made twice after
Stripe forgot its idempotency key. Real PostgreSQL, Kafka and stripe-mock; the
approver is interrupted inside its step, as the delivery crash tests do."""

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from payouts import approval
from payouts.domain.approval import STALE_STRIPE_CLAIM
from payouts.stripe_gateway import StripeGateway
from services.payouts.tests.integration.payouts_driver import Payouts, eventually, headers, new_id, stripe_event
from tests.support.stripe_recording import RecordingStripeHttp


@contextlib.contextmanager
def approver_dies_storing(client: AsyncTestClient, column: str) -> Iterator[list[str]]:
    """The app's process 'dies' (the step raises, nothing of its transaction is
    committed) at the first UPDATE of payouts that stores `column`."""
    engine = client.app.state.runtime.db.engine.sync_engine
    died: list[str] = []

    def die(conn, cursor, statement: str, *args) -> None:  # noqa: ANN001
        stored = statement.split("WHERE")[0]
        if not died and statement.lstrip().startswith("UPDATE payouts SET") and column in stored:
            died.append(statement)
            raise RuntimeError(f"the approver dies before storing {column}")

    sa.event.listen(engine, "before_cursor_execute", die)
    try:
        yield died
    finally:
        sa.event.remove(engine, "before_cursor_execute", die)


async def parked(db, event_id: uuid.UUID) -> bool:
    async with db.transaction() as session:
        return bool(await session.scalar(
            sa.text("SELECT count(*) FROM parked_events WHERE event_id = :id"), {"id": event_id}
        ))


async def claim_goes_stale(db, payout_id: str) -> None:
    """What ten minutes without its approver look like."""
    async with db.transaction() as session:
        await session.execute(
            sa.text("UPDATE payouts SET stripe_claimed_at = stripe_claimed_at - make_interval(secs => :age) "
                    "WHERE id = :id"),
            {"age": (STALE_STRIPE_CLAIM + timedelta(minutes=1)).total_seconds(), "id": uuid.UUID(payout_id)},
        )


def urlpath(url: str) -> str:
    return urlsplit(url).path


async def audit_trail(payouts: Payouts, payout_id: str) -> list[dict]:
    audit = await payouts.client.get(f"/admin/payouts/{payout_id}/audit", headers=headers("auditor", "admin"))
    return audit.json()["items"]


def _verify_audit() -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "payouts", "verify-audit"], env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)


async def _reserved(payouts: Payouts, gross: int = 20_000, debt: int = 0) -> tuple[str, str, str]:
    creator, account = await payouts.onboarded_creator()
    payout = await payouts.request(creator, gross)
    await payouts.reserve(payout, gross=gross, debt=debt)
    return creator, account, payout["payout_id"]


@pytest.mark.parametrize(("event_type", "final"), [("payout.paid", "PAID"), ("payout.failed", "FAILED")])
async def test_a_payout_event_read_before_its_id_was_stored_waits_parked_and_the_dead_approvers_payout_is_adopted(
    payouts: Payouts, db, stripe_http: RecordingStripeHttp, event_type: str, final: str
) -> None:
    creator, account, payout_id = await _reserved(payouts)
    with approver_dies_storing(payouts.client, "stripe_payout_id") as died:
        crashed = await payouts.approve(payout_id)
    assert died and crashed.status_code == 500
    stuck = await payouts.get(payout_id)
    assert (stuck["status"], stuck["stripe_payout_id"]) == ("APPROVED", None) and stuck["stripe_transfer_id"]

    # Stripe made the payout the approver never stored, and settles it.
    stripe_payout_id = new_id("po")
    settled = stripe_event(event_type, {"id": stripe_payout_id, "object": "payout", "status": final.lower(),
                                        "amount": 20_000, "failure_code": "account_closed" if final == "FAILED" else None,
                                        "metadata": {"payout_id": payout_id}}, account=account)
    await payouts.publish(settled)
    await eventually(lambda: parked(db, settled.event_id), f"{event_type} parked while the approver may be at work")
    assert (await payouts.get(payout_id))["status"] == "APPROVED"

    # The approver never comes back: once its claim is stale, the parked event's
    # next try takes Stripe's payout id and applies.
    await claim_goes_stale(db, payout_id)
    done = await payouts.wait_for(payout_id, lambda p: p["status"] == final, final)
    assert done["stripe_payout_id"] == stripe_payout_id
    assert not await parked(db, settled.event_id)
    trail = [(row["old_state"], row["new_state"], row["actor_role"], row["reason"])
             for row in await audit_trail(payouts, payout_id)]
    assert trail[:3] == [(None, "REQUESTED", "creator", None), ("REQUESTED", "APPROVED", "admin", None),
                         ("APPROVED", "PROCESSING", "system", "recovered_from_stripe_event")]
    assert trail[3][:3] == ("PROCESSING", final, "stripe")
    events = await payouts.events(creator)
    assert [topic for topic, _ in events] == ["payout.requested", "payout.approved", "payout.processing", event_type]
    if final == "FAILED":  # the bank refused: the transfer comes back to the platform, the ledger releases
        assert events[-1][1]["was_paid"] is False
        assert stripe_http.with_key(f"reversal:{payout_id}:{stuck['stripe_transfer_id']}")


async def test_an_approval_that_died_between_transfer_and_payout_is_resumed_once_stale_with_a_lookup_first(
    payouts: Payouts, db, payouts_settings
) -> None:
    creator, account, payout_id = await _reserved(payouts)
    with approver_dies_storing(payouts.client, "stripe_transfer_id") as died:
        crashed = await payouts.approve(payout_id)
    assert died and crashed.status_code == 500
    stuck = await payouts.get(payout_id)
    assert (stuck["status"], stuck["stripe_transfer_id"]) == ("APPROVED", None)

    stripe_http = RecordingStripeHttp()
    gateway = StripeGateway(payouts_settings.stripe_api_key, payouts_settings.stripe_api_base, http_client=stripe_http)
    try:
        now = datetime.now(UTC)
        assert uuid.UUID(payout_id) not in await approval.resume_stalled(db, gateway, now)  # may still be at work
        later = now + STALE_STRIPE_CLAIM + timedelta(minutes=1)
        assert uuid.UUID(payout_id) in await approval.resume_stalled(db, gateway, later)
    finally:
        await gateway.close()

    resumed = await payouts.get(payout_id)
    assert resumed["status"] == "PROCESSING" and resumed["stripe_transfer_id"] and resumed["stripe_payout_id"]
    transfers = [r for r in stripe_http.requests if urlpath(r.url) == "/v1/transfers"
                 and (payout_id in r.url or r.headers.get("Idempotency-Key") == f"transfer:{payout_id}")]
    # The transfer the dead approver made is looked for first (the key it used may have
    # expired); stripe-mock knows none, so it is created again with the same key.
    assert [r.method.lower() for r in transfers] == ["get", "post"]
    assert f"transfer_group=payout_{payout_id}" in transfers[0].url
    assert transfers[1].headers["Idempotency-Key"] == f"transfer:{payout_id}"
    assert len(stripe_http.with_key(f"payout:{payout_id}")) == 1
    assert [row["new_state"] for row in await audit_trail(payouts, payout_id)] == [
        "REQUESTED", "APPROVED", "PROCESSING"]
    assert [topic for topic, _ in await payouts.events(creator)] == [
        "payout.requested", "payout.approved", "payout.processing"]


async def test_an_approval_looks_for_the_payouts_transfer_at_stripe_before_creating_one(
    payouts: Payouts, stripe_http: RecordingStripeHttp
) -> None:
    _, _, payout_id = await _reserved(payouts)
    approved = await payouts.approve(payout_id)
    assert approved.status_code == 200, approved.text
    transfers = [r for r in stripe_http.requests if urlpath(r.url) == "/v1/transfers"
                 and (payout_id in r.url or r.headers.get("Idempotency-Key") == f"transfer:{payout_id}")]
    assert [r.method.lower() for r in transfers] == ["get", "post"]
    assert f"transfer_group=payout_{payout_id}" in transfers[0].url


async def test_an_approved_payout_stripe_cannot_pay_out_is_voided_reversing_its_transfer_and_failing(
    payouts: Payouts, stripe_http: RecordingStripeHttp
) -> None:
    creator, _, payout_id = await _reserved(payouts, gross=20_000, debt=2_000)
    stripe_http.refusals_at.append(("/v1/payouts", 400, {"error": {
        "type": "invalid_request_error", "code": "no_external_account",
        "message": "This account has no external account to pay out to."}}))
    refused = await payouts.approve(payout_id)
    assert refused.status_code == 502 and refused.json()["code"] == "no_external_account"
    stuck = await payouts.get(payout_id)
    assert stuck["status"] == "APPROVED" and stuck["stripe_transfer_id"]

    # Neither a rejection nor a cancel gets it out of APPROVED...
    rejected = await payouts.client.post(f"/admin/payouts/{payout_id}/reject", json={"reason": "no bank"},
                                         headers=headers("admin_1", "admin"))
    canceled = await payouts.client.post(f"/payouts/{payout_id}/cancel", headers=headers(creator, "creator"))
    assert (rejected.json()["reason"], canceled.json()["reason"]) == ("not_rejectable", "not_cancelable")
    # ...a void does, with a reason.
    void_url = f"/admin/payouts/{payout_id}/void"
    unexplained = await payouts.client.post(void_url, json={}, headers=headers("admin_2", "admin"))
    assert unexplained.status_code == 422 and unexplained.json()["reason"] == "reason_required"
    assert stripe_http.with_key(f"reversal:{payout_id}:{stuck['stripe_transfer_id']}") == []
    voided = await payouts.client.post(void_url, json={"reason": "the creator has no bank account"},
                                       headers=headers("admin_2", "admin"))
    assert voided.status_code == 200, voided.text
    failed = voided.json()
    assert failed["status"] == "FAILED" and failed["stripe_reversal_id"]
    assert (failed["failure_code"], failed["failure_message"]) == ("no_external_account",
                                                                  "the creator has no bank account")
    [reversal] = stripe_http.with_key(f"reversal:{payout_id}:{stuck['stripe_transfer_id']}")
    assert urlpath(reversal.url) == f"/v1/transfers/{stuck['stripe_transfer_id']}/reversals"

    # The ledger releases the reservation on payout.failed before payment; the creator is notified of it.
    topic, data = (await payouts.events(creator))[-1]
    assert topic == "payout.failed"
    assert (data["was_paid"], data["amount_minor"], data["debt_deducted_minor"], data["net_minor"]) == (
        False, 20_000, 2_000, 18_000)
    assert data["failure_message"] == "the creator has no bank account"
    last = (await audit_trail(payouts, payout_id))[-1]
    assert (last["old_state"], last["new_state"], last["actor_id"], last["reason"]) == (
        "APPROVED", "FAILED", "admin_2", "the creator has no bank account")
    assert last["metadata"]["stripe_reversal_id"] == failed["stripe_reversal_id"]
    again = await payouts.client.post(void_url, json={"reason": "again"}, headers=headers("admin_2", "admin"))
    assert again.status_code == 409 and again.json()["reason"] == "not_voidable"
    assert (await payouts.approve(payout_id)).json()["reason"] == "not_approvable"
    verified = _verify_audit()
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def test_only_an_approved_payout_is_voided(payouts: Payouts) -> None:
    creator, _, payout_id = await _reserved(payouts)
    early = await payouts.client.post(f"/admin/payouts/{payout_id}/void", json={"reason": "r"},
                                      headers=headers("admin_1", "admin"))
    assert early.status_code == 409 and early.json()["reason"] == "not_voidable"
    by_creator = await payouts.client.post(f"/admin/payouts/{payout_id}/void", json={"reason": "r"},
                                           headers=headers(creator, "creator"))
    assert by_creator.status_code == 403
    assert (await payouts.get(payout_id))["status"] == "REQUESTED"
