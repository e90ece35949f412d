"""Refunds, disputes and creator debt, end to end through the gateway: admin refunds
through our API (stripe-mock answers), Stripe's refund and dispute webhooks built
from the ids our API and stripe-mock returned, signed, and delivered through the
gateway; balances read back through the gateway, the journal peeked at in the
ledger's database, and the ledger's invariant command run against it.

stripe-mock answers a refund with status `succeeded` at once (card refunds at
Stripe usually do too). payments applies that answer exactly as it applies a
webhook, so the refund is SUCCEEDED and announced when the API returns; the
`refund.*` webhooks Stripe sends afterwards must then change nothing.
"""

import csv
import io
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from contracts.events.stripe import StripeEventReceived
from tests.support.polling import eventually
from tests.support.stripe_events import stripe_event

from .conftest import Gateway, new_id, payment_intent_succeeded

PRICE = 10000  # 100.00 EUR
SHARE = 8500  # ceil(10000 * 8500 / 10000): the creator's 85 %
DISPUTE_FEE = 2000  # 20.00 EUR, as Stripe reports it in the balance transaction's fee_details
PROBLEM_JSON = "application/problem+json"


@pytest.fixture
async def payouts_db(stack) -> AsyncIterator[asyncpg.Connection]:
    """A read-only peek into payouts' database (its projection of balances)."""
    connection = await asyncpg.connect(stack.asyncpg_dsn("payouts"))
    yield connection
    await connection.close()


# ---- Stripe's side -------------------------------------------------------------


def charge_of(succeeded: dict[str, Any]) -> str:
    """The charge id a `payment_intent.succeeded` event names (payments stores it)."""
    return succeeded["data"]["object"]["latest_charge"]


def refund_event(type_: str, refund: dict[str, Any], intent: dict[str, Any], charge: str, status: str) -> dict:
    """A `refund.*` event about the Refund our API created (its Stripe id came back
    from stripe-mock); real Stripe echoes the metadata our call sent."""
    return stripe_event(type_, {
        "id": refund["stripe_refund_id"],
        "object": "refund",
        "amount": refund["amount_minor"],
        "currency": refund["currency"].lower(),
        "charge": charge,
        "payment_intent": intent["stripe_payment_intent_id"],
        "status": status,
        "reason": refund["reason"],
        "metadata": {"refund_id": refund["refund_id"], "payment_id": refund["payment_id"]},
    })


def dispute_reinstatement(amount: int) -> dict[str, Any]:
    """The balance transaction of a won dispute: the disputed amount comes back
    (Stripe keeps its dispute fee here)."""
    return {
        "id": f"txn_{secrets.token_hex(12)}", "object": "balance_transaction", "amount": amount, "fee": 0,
        "fee_details": [], "net": amount, "currency": "eur", "type": "adjustment",
        "reporting_category": "dispute_reversal", "status": "available",
    }


def dispute_withdrawal(amount: int, fee: int) -> dict[str, Any]:
    """The balance transaction of a chargeback: the disputed amount and Stripe's
    dispute fee leave the platform's balance."""
    return {
        "id": f"txn_{secrets.token_hex(12)}",
        "object": "balance_transaction",
        "amount": -amount,
        "fee": fee,
        "fee_details": [{"amount": fee, "application": None, "currency": "eur",
                         "description": "Dispute fee", "type": "stripe_fee"}],
        "net": -amount - fee,
        "currency": "eur",
        "type": "adjustment",
        "reporting_category": "dispute",
        "status": "available",
    }


class DisputeStory:
    """The signed events of one dispute's life at Stripe, each `created` one
    second after the previous (the order Stripe would have sent them in)."""

    def __init__(self, intent: dict[str, Any], charge: str, amount: int, fee: int = DISPUTE_FEE) -> None:
        self.intent, self.charge, self.amount = intent, charge, amount
        self.id = f"du_{secrets.token_hex(12)}"
        self.withdrawal = dispute_withdrawal(amount, fee)
        self.started = int(time.time())

    def _event(self, type_: str, status: str, transactions: list[dict], second: int) -> dict[str, Any]:
        event = stripe_event(type_, {
            "id": self.id,
            "object": "dispute",
            "amount": self.amount,
            "currency": "eur",
            "charge": self.charge,
            "payment_intent": self.intent["stripe_payment_intent_id"],
            "status": status,
            "reason": "fraudulent",
            "evidence_details": {"due_by": self.started + 7 * 86400, "has_evidence": False,
                                 "past_due": False, "submission_count": 0},
            "balance_transactions": transactions,
            "is_charge_refundable": False,
            "livemode": False,
        })
        event["created"] = self.started + second
        return event

    def created(self) -> dict[str, Any]:
        return self._event("charge.dispute.created", "needs_response", [], 0)

    def funds_withdrawn(self) -> dict[str, Any]:
        return self._event("charge.dispute.funds_withdrawn", "needs_response", [self.withdrawal], 1)

    def closed(self, outcome: str) -> dict[str, Any]:
        # A won dispute's object shows the reinstatement beside the withdrawal, as Stripe's does.
        reinstated = [dispute_reinstatement(self.amount)] if outcome == "won" else []
        return self._event("charge.dispute.closed", outcome, [self.withdrawal, *reinstated], 2)


# ---- our side ------------------------------------------------------------------


async def paid(gateway: Gateway, databases, creator: str, price: int = PRICE) -> tuple[dict, dict]:
    """A fan's payment for `creator`, succeeded at Stripe and applied by payments
    (a refund needs that). Returns our intent and the Stripe event."""
    intent = await gateway.create_intent(new_id("fan"), creator, price, "EUR")
    succeeded = payment_intent_succeeded(intent)
    assert (await gateway.send_webhook(succeeded)).status_code == 200
    await eventually(lambda: payment_status_is(databases, intent, "SUCCEEDED"))
    return intent, succeeded


async def payment_status_is(databases, intent: dict, status: str) -> bool:
    found = await databases["payments"].fetchval(
        "SELECT status FROM payments WHERE id = $1", uuid.UUID(intent["payment_id"]))
    return found == status


async def refund(gateway: Gateway, admin: str, payment_id: str, **body: Any) -> httpx.Response:
    return await gateway.http.post(f"/api/payments/{payment_id}/refunds", json=body,
                                   headers=gateway.auth(admin, "admin"))


async def deliver(gateway: Gateway, *events: dict[str, Any]) -> None:
    for event in events:
        response = await gateway.send_webhook(event)
        assert response.status_code == 200, response.text


async def applied_by_payments(databases, *events: dict[str, Any]) -> bool:
    """True once payments has applied (or ignored) every one of these Stripe events."""
    ids = [StripeEventReceived.event_id_for(e["id"]) for e in events]
    done = await databases["payments"].fetchval("SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", ids)
    return done == len(set(ids))


async def balance_is(gateway: Gateway, creator: str, **expected: int) -> dict | None:
    """The creator's EUR balance once every field named in `expected` has that value."""
    eur = (await gateway.balance(creator)).get("EUR")
    return eur if eur and all(eur[k] == v for k, v in expected.items()) else None


async def entry_kinds(databases, creator: str) -> Counter:
    rows = await databases["ledger"].fetch("SELECT kind FROM journal_entries WHERE creator_id = $1", creator)
    return Counter(row["kind"] for row in rows)


async def account_sums(databases, creator: str) -> dict[str, int]:
    """Per account, the sum of the postings of the creator's journal entries (the
    creator's id written as {creator}, so two creators' books compare)."""
    rows = await databases["ledger"].fetch(
        "SELECT p.account, sum(p.amount_minor)::bigint AS total FROM postings p "
        "JOIN journal_entries e ON e.id = p.entry_id WHERE e.creator_id = $1 GROUP BY p.account", creator)
    return {row["account"].replace(creator, "{creator}"): row["total"] for row in rows}


async def notification_types(gateway: Gateway, user: str, role: str) -> list[str]:
    listing = await gateway.http.get("/api/notifications", params={"limit": 100}, headers=gateway.auth(user, role))
    assert listing.status_code == 200, listing.text
    return sorted(n["type"] for n in listing.json()["items"])


def ledger_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ledger", "check"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    problem = response.json()
    assert problem["status"] == status and problem["title"], problem
    return problem


# The books of one story, computed by hand (postings as stored: debit > 0, credit < 0;
# a creator's own accounts are credit-normal, so what they are owed is negative).
#
#   payment 100.00      stripe:balance +10000   available -8500   revenue -1500
#   refund   40.00      creator gives back floor(8500 * 4000 / 10000) = 3400, the platform 600:
#                       stripe:balance  -4000   available +3400   revenue  +600      -> available 5100
#   dispute  60.00      frozen: floor(8500 * 10000/10000) - floor(8500 * 4000/10000) = 8500 - 3400 = 5100,
#     opened            all covered by available, so no debt:
#                       available +5100   disputed -5100                             -> available 0
#     funds withdrawn   stripe:balance -(6000 + 2000)   dispute_fees +2000   stripe:disputed_funds +6000
#     lost              disputed +5100   revenue +(6000 - 5100) = +900   stripe:disputed_funds -6000
#
#   totals: stripe:balance 10000 - 4000 - 8000 = -2000, revenue -1500 + 600 + 900 = 0,
#   dispute_fees 2000, disputed_funds 0, and the creator's accounts all back to 0.
REFUND = 4000
REFUND_CLAWBACK = SHARE * REFUND // PRICE  # 3400
AFTER_REFUND = SHARE - REFUND_CLAWBACK  # 5100
DISPUTED = PRICE - REFUND  # 6000
FROZEN = SHARE * PRICE // PRICE - SHARE * REFUND // PRICE  # 5100
STORY_BOOKS = {
    "stripe:balance": PRICE - REFUND - (DISPUTED + DISPUTE_FEE),  # -2000
    "creator:{creator}:available": -SHARE + REFUND_CLAWBACK + FROZEN,  # 0
    "creator:{creator}:disputed": -FROZEN + FROZEN,  # 0
    "platform:revenue": -(PRICE - SHARE) + (REFUND - REFUND_CLAWBACK) + (DISPUTED - FROZEN),  # 0
    "platform:dispute_fees": DISPUTE_FEE,  # 2000
    "stripe:disputed_funds": DISPUTED - DISPUTED,  # 0
}
STORY_ENTRIES = Counter({"payment": 1, "refund": 1, "dispute_opened": 1, "dispute_funds_withdrawn": 1,
                         "dispute_closed": 1})
SETTLED_TO_ZERO = {"available_minor": 0, "disputed_minor": 0, "reserved_minor": 0, "debt_minor": 0}


async def test_refund_then_lost_dispute_moves_exactly_the_hand_computed_amounts(gateway: Gateway, databases) -> None:
    creator, admin = new_id("creator"), new_id("admin")
    intent, succeeded = await paid(gateway, databases, creator)
    await eventually(lambda: balance_is(gateway, creator, available_minor=SHARE))

    answer = await refund(gateway, admin, intent["payment_id"], amount_minor=REFUND, currency="EUR",
                          reason="requested_by_customer")
    assert answer.status_code == 202, answer.text
    made = answer.json()
    # stripe-mock said `succeeded`: payments applied that as it would the webhook.
    assert made["status"] == "SUCCEEDED" and made["stripe_refund_id"].startswith("re_")
    assert (made["amount_minor"], made["currency"], made["creator_clawback_minor"]) == (REFUND, "EUR", REFUND_CLAWBACK)

    # Then Stripe's webhooks for that refund arrive: matched by its id, counted once.
    charge = charge_of(succeeded)
    webhooks = [refund_event(t, made, intent, charge, "succeeded") for t in ("refund.created", "refund.updated")]
    await deliver(gateway, *webhooks)
    await eventually(lambda: applied_by_payments(databases, *webhooks))
    await eventually(lambda: balance_is(gateway, creator, available_minor=AFTER_REFUND))
    refunds = (await gateway.http.get(f"/api/payments/{intent['payment_id']}/refunds",
                                      headers=gateway.auth(admin, "admin"))).json()
    assert [(r["refund_id"], r["status"]) for r in refunds] == [(made["refund_id"], "SUCCEEDED")]

    dispute = DisputeStory(intent, charge, DISPUTED)
    await deliver(gateway, dispute.created())
    opened = await eventually(lambda: balance_is(gateway, creator, disputed_minor=FROZEN))
    assert opened == {"currency": "EUR", "available_minor": 0, "disputed_minor": FROZEN, "reserved_minor": 0,
                      "debt_minor": 0, "payouts_blocked": False}
    await deliver(gateway, dispute.funds_withdrawn(), dispute.closed("lost"))

    async def closed() -> bool:
        return (await entry_kinds(databases, creator))["dispute_closed"] == 1

    await eventually(closed)
    assert await balance_is(gateway, creator, **SETTLED_TO_ZERO)
    assert await entry_kinds(databases, creator) == STORY_ENTRIES
    assert await account_sums(databases, creator) == STORY_BOOKS
    debts = await gateway.http.get("/api/debts", headers=gateway.auth(creator, "creator"))
    assert debts.status_code == 200 and debts.json()["debts"] == []

    stored = await databases["payments"].fetchrow(
        "SELECT status, closed, outcome, creator_share_minor FROM disputes WHERE stripe_dispute_id = $1", dispute.id)
    assert dict(stored) == {"status": "lost", "closed": True, "outcome": "lost", "creator_share_minor": FROZEN}

    want = ["DISPUTE_CREATED", "DISPUTE_LOST", "PAYMENT_RECEIVED", "REFUND_CREATED"]

    async def creator_notified() -> bool:
        return await notification_types(gateway, creator, "creator") == want

    await eventually(creator_notified)

    async def both_admin_notifications() -> bool:
        rows = await databases["notifications"].fetch(
            "SELECT type FROM notifications WHERE recipient_role = 'admin' AND body LIKE '%' || $1 || '%'",
            dispute.id)
        return sorted(r["type"] for r in rows) == ["DISPUTE_CREATED", "DISPUTE_LOST"]

    await eventually(both_admin_notifications)

    checked = ledger_check(gateway.env)
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_refund_after_the_share_was_reserved_for_a_payout_becomes_debt_and_blocks_payouts(
    gateway: Gateway, databases, payouts_db
) -> None:
    creator, admin = new_id("creator"), new_id("admin")
    as_creator = gateway.auth(creator, "creator")
    intent, _ = await paid(gateway, databases, creator)
    await eventually(lambda: balance_is(gateway, creator, available_minor=SHARE))

    # Drain `available` the real way: a payout account Stripe enabled, then a payout
    # request for all of it, which the ledger reserves.
    account = await gateway.http.post("/api/payouts/account", headers=as_creator)
    assert account.status_code == 201, account.text
    account_id = account.json()["stripe_account_id"]
    enabled = stripe_event("account.updated", {
        "id": account_id, "object": "account", "payouts_enabled": True, "charges_enabled": True,
        "details_submitted": True, "requirements": {"currently_due": [], "disabled_reason": None},
    }, account=account_id)
    assert (await gateway.send_webhook(enabled, connect=True)).status_code == 200

    async def ready_for_payouts() -> bool:
        view = await gateway.http.get("/api/payouts/account", headers=as_creator)
        known = await payouts_db.fetchval(
            "SELECT count(*) FROM creator_balances WHERE creator_id = $1 AND currency = 'EUR'", creator)
        return view.status_code == 200 and view.json()["payouts_enabled"] and known == 1

    await eventually(ready_for_payouts)
    payout = await gateway.http.post("/api/payouts", json={"all": True, "currency": "EUR"},
                                     headers={**as_creator, "Idempotency-Key": f"drain-{creator}"})
    assert payout.status_code == 201, payout.text
    await eventually(lambda: balance_is(gateway, creator, available_minor=0, reserved_minor=SHARE))

    # 40.00 back to the fan: the creator owes floor(8500 * 4000 / 10000) = 3400, and
    # `available` is 0, so all of it is debt; 34.00 is not above the 50.00 threshold.
    first = await refund(gateway, admin, intent["payment_id"], amount_minor=4000)
    assert first.status_code == 202, first.text
    in_debt = await eventually(lambda: balance_is(gateway, creator, debt_minor=3400))
    assert in_debt == {"currency": "EUR", "available_minor": 0, "disputed_minor": 0, "reserved_minor": SHARE,
                       "debt_minor": 3400, "payouts_blocked": False}

    # The other 60.00: 8500 - 3400 = 5100 more, debt 8500 > 5000, payouts blocked.
    second = await refund(gateway, admin, intent["payment_id"], amount_minor=6000)
    assert second.status_code == 202, second.text
    blocked = await eventually(lambda: balance_is(gateway, creator, debt_minor=8500))
    assert blocked == {"currency": "EUR", "available_minor": 0, "disputed_minor": 0, "reserved_minor": SHARE,
                       "debt_minor": 8500, "payouts_blocked": True}

    owed = await gateway.http.get("/api/debts", headers=as_creator)
    assert owed.status_code == 200, owed.text
    debts = {(d["cause_type"], d["cause_id"]): d for d in owed.json()["debts"]}
    assert set(debts) == {("refund", first.json()["refund_id"]), ("refund", second.json()["refund_id"])}
    amounts = sorted((d["amount_minor"], d["remaining_minor"], d["status"], d["currency"]) for d in debts.values())
    assert amounts == [(3400, 3400, "OPEN", "EUR"), (5100, 5100, "OPEN", "EUR")]
    as_admin = await gateway.http.get("/api/debts", params={"creator_id": creator},
                                      headers=gateway.auth(admin, "admin"))
    assert {d["debt_id"] for d in as_admin.json()["debts"]} == {d["debt_id"] for d in debts.values()}
    others = await gateway.http.get("/api/debts", params={"creator_id": new_id("creator")}, headers=as_creator)
    assert others.status_code == 403

    async def told_of_debts() -> bool:
        return (await notification_types(gateway, creator, "creator")).count("DEBT_CREATED") == 2

    await eventually(told_of_debts)


async def test_webhooks_twice_and_out_of_order_end_in_the_same_books(gateway: Gateway, databases) -> None:
    admin = new_id("admin")

    async def story(creator: str, scramble: bool) -> None:
        intent, succeeded = await paid(gateway, databases, creator)
        if scramble:
            await deliver(gateway, succeeded)  # Stripe's retry of the payment's event
        made = await refund(gateway, admin, intent["payment_id"], amount_minor=REFUND)
        assert made.status_code == 202, made.text
        charge = charge_of(succeeded)
        refund_created = refund_event("refund.created", made.json(), intent, charge, "pending")
        refund_updated = refund_event("refund.updated", made.json(), intent, charge, "succeeded")
        dispute = DisputeStory(intent, charge, DISPUTED)
        created, withdrawn, closed = dispute.created(), dispute.funds_withdrawn(), dispute.closed("lost")
        if scramble:
            # The close first, the stale `pending` after `succeeded`, each one twice.
            events = [closed, refund_updated, withdrawn, closed, refund_created, created,
                      refund_updated, withdrawn, created, refund_created]
        else:
            events = [refund_created, refund_updated, created, withdrawn, closed]
        await deliver(gateway, *events)
        await eventually(lambda: applied_by_payments(databases, *events))

        async def closed_in_ledger() -> bool:
            return (await entry_kinds(databases, creator))["dispute_closed"] == 1

        await eventually(closed_in_ledger)

    in_order, scrambled = new_id("creator"), new_id("creator")
    await story(in_order, scramble=False)
    await story(scrambled, scramble=True)

    for creator in (in_order, scrambled):
        assert await balance_is(gateway, creator, **SETTLED_TO_ZERO), creator
        assert await entry_kinds(databases, creator) == STORY_ENTRIES, creator
    assert await account_sums(databases, in_order) == await account_sums(databases, scrambled) == STORY_BOOKS
    rows = await databases["payments"].fetch(
        "SELECT p.creator_id, r.status AS refund, r.creator_clawback_minor AS clawback, d.status AS dispute, "
        "d.outcome FROM payments p JOIN refunds r ON r.payment_id = p.id JOIN disputes d ON d.payment_id = p.id "
        "WHERE p.creator_id = ANY($1::text[])", [in_order, scrambled])
    assert sorted(tuple(r.values())[1:] for r in rows) == [("SUCCEEDED", REFUND_CLAWBACK, "lost", "lost")] * 2


async def test_refunds_that_may_not_be_made_are_refused_and_post_nothing(gateway: Gateway, databases) -> None:
    creator, admin, other_admin = new_id("creator"), new_id("admin"), new_id("admin")
    intent, _ = await paid(gateway, databases, creator)
    await eventually(lambda: balance_is(gateway, creator, available_minor=SHARE))
    failed = await gateway.create_intent(new_id("fan"), creator, PRICE, "EUR")
    await deliver(gateway, stripe_event("payment_intent.payment_failed", {
        "id": failed["stripe_payment_intent_id"], "object": "payment_intent", "amount": PRICE, "currency": "eur",
        "status": "requires_payment_method",
        "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
        "metadata": {"payment_id": failed["payment_id"]},
    }))
    await eventually(lambda: payment_status_is(databases, failed, "FAILED"))
    payment = intent["payment_id"]

    assert "at most 10000" in assert_problem(await refund(gateway, admin, payment, amount_minor=PRICE + 1), 422)["detail"]
    assert_problem(await refund(gateway, admin, payment, amount_minor=0), 422)
    assert_problem(await refund(gateway, admin, payment, amount_minor=-500), 422)
    assert "EUR" in assert_problem(await refund(gateway, admin, payment, amount_minor=1000, currency="USD"), 422)["detail"]
    assert_problem(await refund(gateway, admin, payment, amount_minor="1000"), 400)  # money is never coerced
    assert_problem(await refund(gateway, admin, failed["payment_id"], amount_minor=1000), 409)
    assert_problem(await refund(gateway, other_admin, str(uuid.uuid4()), amount_minor=1000), 404)
    for who, role in ((creator, "creator"), (new_id("fan"), "fan")):
        refused = await gateway.http.post(f"/api/payments/{payment}/refunds", json={"amount_minor": 1000},
                                          headers=gateway.auth(who, role))
        assert_problem(refused, 403)

    # Nothing was recorded, nothing was posted.
    for payment_id in (payment, failed["payment_id"]):
        listed = await gateway.http.get(f"/api/payments/{payment_id}/refunds", headers=gateway.auth(admin, "admin"))
        assert listed.status_code == 200 and listed.json() == [], listed.text
    assert await balance_is(gateway, creator, available_minor=SHARE, debt_minor=0)
    assert await entry_kinds(databases, creator) == Counter({"payment": 1})

    # The refusals were about the amounts, not the payment: the whole price may go back.
    whole = await refund(gateway, other_admin, payment, amount_minor=PRICE, currency="eur")
    assert whole.status_code == 202, whole.text
    await eventually(lambda: balance_is(gateway, creator, available_minor=0, debt_minor=0))


async def test_admin_views_list_export_and_count_refunds_and_disputes(gateway: Gateway, databases) -> None:
    creator, admin = new_id("creator"), new_id("admin")
    as_admin = gateway.auth(admin, "admin")
    intent, succeeded = await paid(gateway, databases, creator)
    made = await refund(gateway, admin, intent["payment_id"], amount_minor=REFUND, reason="requested_by_customer")
    assert made.status_code == 202, made.text
    dispute = DisputeStory(intent, charge_of(succeeded), DISPUTED)
    events = [dispute.created(), dispute.funds_withdrawn(), dispute.closed("won")]
    await deliver(gateway, *events)
    await eventually(lambda: applied_by_payments(databases, *events))
    # Won: the frozen 5100 is back, the creator keeps 8500 - 3400.
    await eventually(lambda: balance_is(gateway, creator, available_minor=AFTER_REFUND, disputed_minor=0))

    listed = await gateway.http.get("/api/admin/refunds", params={"creator_id": creator}, headers=as_admin)
    assert listed.status_code == 200, listed.text
    assert [(r["refund_id"], r["amount"], r["currency"], r["status"]) for r in listed.json()["items"]] == [
        (made.json()["refund_id"], "40.00", "EUR", "SUCCEEDED")]

    exported = await gateway.http.get("/api/admin/refunds", params={"creator_id": creator, "format": "csv"},
                                      headers=as_admin)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    header, *rows = list(csv.reader(io.StringIO(exported.text)))
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert (row["refund_id"], row["amount"], row["currency"], row["creator_clawback"], row["status"]) == (
        made.json()["refund_id"], "40.00", "EUR", "34.00", "SUCCEEDED")
    assert '40.00,EUR' in exported.text  # decimal string beside its currency, never minor units

    disputes = await gateway.http.get("/api/admin/disputes", params={"creator_id": creator, "format": "csv"},
                                      headers=as_admin)
    header, *rows = list(csv.reader(io.StringIO(disputes.text)))
    assert [dict(zip(header, r, strict=True))["amount"] for r in rows] == ["60.00"]

    refund_stats = await gateway.http.get("/api/admin/refunds/stats", params={"creator_id": creator},
                                          headers=as_admin)
    assert refund_stats.json()["stats"] == [
        {"status": "SUCCEEDED", "count": 1, "amount_minor": REFUND, "currency": "EUR", "amount": "40.00"}]
    dispute_stats = await gateway.http.get("/api/admin/disputes/stats", params={"creator_id": creator},
                                           headers=as_admin)
    assert dispute_stats.json()["stats"] == [
        {"status": "won", "count": 1, "amount_minor": DISPUTED, "currency": "EUR", "amount": "60.00"}]

    for path in ("/api/admin/refunds", "/api/admin/disputes/stats"):
        assert (await gateway.http.get(path, headers=gateway.auth(creator, "creator"))).status_code == 403
