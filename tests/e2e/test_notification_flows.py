"""Issue 6, section 4, end to end through the gateway: every money flow tells the
right people, in the app and by email (honouring opt-outs), and the unread count
stays exact while read-all races new notifications."""

import asyncio
from collections import Counter
from typing import Any

from tests.support.polling import eventually

from .conftest import Gateway, new_id
from .test_notifications import auth_with_email, mail_to, pay, unread
from .test_payouts import (
    balance_is,
    earn,
    onboard,
    paid_out,
    payout_where,
    refund,
    request_payout,
    stripe_payout_event,
)
from .test_refunds_disputes import DisputeStory, charge_of, deliver, entry_kinds, paid


async def everything_seen(gateway: Gateway, auth: dict[str, str]) -> list[dict[str, Any]]:
    """The caller's whole notification list, every page, newest first."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        response = await gateway.http.get("/api/notifications", params=params, headers=auth)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if not page["items"] or page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]


async def set_preferences(gateway: Gateway, auth: dict[str, str], *choices: dict[str, Any]) -> None:
    response = await gateway.http.put("/api/notifications/preferences", headers=auth,
                                      json={"preferences": list(choices)})
    assert response.status_code == 200, response.text


# What the creator's story below makes, per recipient: payments 100.00, 29.41,
# 100.00 and (disputed) 100.00; three payout requests (paid, blocked, paid with the
# debt deducted and settled); one full refund; one dispute, lost.
CREATOR_TYPES = Counter({
    "PAYMENT_RECEIVED": 4, "PAYOUT_APPROVED": 2, "PAYOUT_PAID": 2, "REFUND_CREATED": 1, "DEBT_CREATED": 1,
    "PAYOUT_BLOCKED": 1, "DEBT_DEDUCTED": 1, "DEBT_SETTLED": 1, "DISPUTE_CREATED": 1, "DISPUTE_LOST": 1,
})  # PAYOUT_PROCESSING (twice) is turned off in the app, so not listed
ADMIN_TYPES = Counter({"PAYOUT_REQUESTED": 3, "DISPUTE_CREATED": 1, "DISPUTE_LOST": 1})
EMAIL_OFF = "PAYOUT_APPROVED"  # listed in the app, never emailed
ALL_OFF = "PAYOUT_PROCESSING"  # neither listed nor emailed


async def test_a_creators_money_story_notifies_the_creator_and_admins_in_app_and_by_email(
        gateway: Gateway, databases, stack) -> None:
    creator, admin = new_id("creator"), new_id("admin")
    creator_email, admin_email = f"{creator}@example.test", f"{admin}@example.test"
    creator_auth = auth_with_email(gateway, creator, "creator", creator_email)
    admin_auth = auth_with_email(gateway, admin, "admin", admin_email)
    assert await unread(gateway, creator_auth) == 0  # the gateway passes both addresses on
    await unread(gateway, admin_auth)
    await set_preferences(gateway, creator_auth, {"type": EMAIL_OFF, "email": False},
                          {"type": ALL_OFF, "in_app": False, "email": False})

    # payment, payout paid; payment, full refund of the first -> debt above the threshold
    account = await onboard(gateway, creator)
    first = await earn(gateway, creator, 10000)  # share 85.00
    paid_payouts = [await paid_out(gateway, creator, account, 8500)]
    await earn(gateway, creator, 2941)  # share 25.00
    await refund(gateway, first, 10000)  # 85.00 back: 25.00 from available, 60.00 debt
    await balance_is(gateway, creator, available_minor=0, debt_minor=6000, payouts_blocked=True)
    blocked = await request_payout(gateway, creator, 1000)
    await payout_where(gateway, creator, blocked["payout_id"], status="BLOCKED")
    # new earnings; the next payout deducts the whole debt and pays the rest
    await earn(gateway, creator, 10000)
    paid_payouts.append(await paid_out(gateway, creator, account, 8500))
    assert paid_payouts[-1]["debt_deducted_minor"] == 6000
    await balance_is(gateway, creator, debt_minor=0, payouts_blocked=False)
    # a payment disputed and lost
    intent, succeeded = await paid(gateway, databases, creator)
    dispute = DisputeStory(intent, charge_of(succeeded), 10000)
    await deliver(gateway, dispute.created(), dispute.funds_withdrawn(), dispute.closed("lost"))

    async def creator_listing() -> list[dict[str, Any]] | None:
        items = await everything_seen(gateway, creator_auth)
        return items if Counter(n["type"] for n in items) == CREATOR_TYPES else None

    try:
        creator_items = await eventually(creator_listing)
    except AssertionError as error:
        seen = Counter(n["type"] for n in await everything_seen(gateway, creator_auth))
        raise AssertionError(f"creator saw {seen}, expected {CREATOR_TYPES}") from error
    assert {n["recipient_user_id"] for n in creator_items} == {creator}
    assert {n["link"] for n in creator_items if n["type"] == "PAYOUT_PAID"} == {
        f"/payouts/{p['payout_id']}" for p in paid_payouts}
    deducted = next(n for n in creator_items if n["type"] == "DEBT_DEDUCTED")
    assert "60.00 EUR" in deducted["body"] and deducted["link"] == f"/payouts/{paid_payouts[-1]['payout_id']}"
    assert await unread(gateway, creator_auth) == sum(CREATOR_TYPES.values())

    # admins: addressed to the role, about this creator (other tests' stories are there too)
    async def admin_listing() -> list[dict[str, Any]] | None:
        items = [n for n in await everything_seen(gateway, admin_auth) if creator in n["body"]]
        return items if Counter(n["type"] for n in items) == ADMIN_TYPES else None

    admin_items = await eventually(admin_listing)
    assert {(n["recipient_role"], n["recipient_user_id"]) for n in admin_items} == {("admin", None)}
    assert {n["link"] for n in admin_items if n["type"] == "PAYOUT_REQUESTED"} == {
        f"/admin/payouts/{p['payout_id']}" for p in (*paid_payouts, blocked)}
    # the creator never sees the admins' notifications, nor another creator this creator's
    assert not any(n["recipient_role"] for n in creator_items)
    assert await everything_seen(gateway, gateway.auth(new_id("creator"), "creator")) == []

    # email: one per notification the person sees, subject = title; nothing for opted-out types
    wanted_creator_mail = Counter(n["title"] for n in creator_items if n["type"] != EMAIL_OFF)
    wanted_admin_mail = Counter(n["title"] for n in admin_items)

    def subjects(messages) -> Counter:
        return Counter(m["Subject"] for m in messages)

    def admin_mail() -> list:
        return [m for m in mail_to(stack.maildir, admin_email) if creator in m.get_body(("plain",)).get_content()]

    async def all_mailed() -> bool:
        return (subjects(mail_to(stack.maildir, creator_email)) == wanted_creator_mail
                and subjects(admin_mail()) == wanted_admin_mail)

    try:
        await eventually(all_mailed)
    except AssertionError as error:
        raise AssertionError(f"creator mail {subjects(mail_to(stack.maildir, creator_email))} != "
                             f"{wanted_creator_mail}; admin mail {subjects(admin_mail())} != {wanted_admin_mail}"
                             ) from error
    await asyncio.sleep(1)  # an email for an opted-out type would have been sent with the rest
    creator_mail = mail_to(stack.maildir, creator_email)
    assert subjects(creator_mail) == wanted_creator_mail
    assert not {"Payout approved", "Payout sent to your bank"} & set(subjects(creator_mail))
    for message in creator_mail:
        assert message["List-Unsubscribe"], message["Subject"]
    debt_mail = next(m for m in creator_mail if m["Subject"] == "You owe the platform")
    assert "60.00 EUR" in debt_mail.get_body(("plain",)).get_content()
    # the opted-out notification exists in the app, and the fully opted-out one is hidden
    assert sum(n["type"] == EMAIL_OFF for n in creator_items) == 2
    hidden = await gateway.http.get("/api/notifications", params={"type": ALL_OFF}, headers=creator_auth)
    assert hidden.json()["items"] == []
    processing = await databases["notifications"].fetchval(
        "SELECT count(*) FROM notifications WHERE recipient_user_id = $1 AND type = $2", creator, ALL_OFF)
    assert processing == 2  # made, then kept out of the app and the mailbox by the preference


async def test_read_all_racing_new_notifications_never_drives_the_unread_count_negative(gateway: Gateway) -> None:
    creator = new_id("creator")
    auth = gateway.auth(creator, "creator")
    payers, payments_each = 3, 5
    payments = payers * payments_each
    counts: list[int] = []
    marked: list[int] = []
    settled = asyncio.Event()

    async def payer(offset: int) -> None:  # payments keep arriving while read-all runs
        for i in range(payments_each):
            await pay(gateway, creator, 1000 + offset * payments_each + i)

    async def reader() -> None:
        while not settled.is_set():
            response = await gateway.http.patch("/api/notifications/read-all", headers=auth)
            assert response.status_code == 200, response.text
            marked.append(response.json()["marked"])

    async def counter() -> None:
        while not settled.is_set():
            counts.append(await unread(gateway, auth))

    async def all_listed() -> bool:
        listed = await gateway.http.get("/api/notifications", params={"limit": 100}, headers=auth)
        return len(listed.json()["items"]) == payments

    racing = asyncio.gather(*(reader() for _ in range(3)), *(counter() for _ in range(2)))
    await asyncio.gather(*(payer(n) for n in range(payers)))
    await eventually(all_listed)
    settled.set()
    await asyncio.wait_for(racing, timeout=30)

    assert counts and min(counts) >= 0, counts
    assert sum(1 for m in marked if m) >= 2, f"one read-all marked everything: nothing raced ({marked})"
    last = await gateway.http.patch("/api/notifications/read-all", headers=auth)
    marked.append(last.json()["marked"])
    assert await unread(gateway, auth) == 0
    # each notification was marked read exactly once, whichever read-all got to it
    assert sum(marked) == payments, marked
    items = (await gateway.http.get("/api/notifications", params={"limit": 100}, headers=auth)).json()["items"]
    assert len(items) == payments and all(n["read_at"] for n in items)


async def test_a_won_dispute_and_a_payout_failed_after_paid_reach_the_creator_in_app_and_by_email(
        gateway: Gateway, databases, stack) -> None:
    creator = new_id("creator")
    creator_email = f"{creator}@example.test"
    creator_auth = auth_with_email(gateway, creator, "creator", creator_email)
    assert await unread(gateway, creator_auth) == 0  # the gateway passes the address on

    intent, succeeded = await paid(gateway, databases, creator)
    story = DisputeStory(intent, charge_of(succeeded), 10000)
    await deliver(gateway, story.created(), story.funds_withdrawn(), story.closed("won"))
    # The won dispute gives the share back before the next payment is counted
    # on top of it (the balance alone cannot tell: it reads the same before the
    # dispute is applied and after it is won).
    async def dispute_closed_posted() -> bool:
        return (await entry_kinds(databases, creator))["dispute_closed"] == 1

    await eventually(dispute_closed_posted)

    account = await onboard(gateway, creator)
    await earn(gateway, creator, 10000)
    payout = await paid_out(gateway, creator, account, 8500 + 8500)
    failed = stripe_payout_event("payout.failed", payout, account, failure_code="account_closed",
                                 failure_message="The bank account has been closed.")
    assert (await gateway.send_webhook(failed, connect=True)).status_code == 200

    async def seen() -> Counter:
        types = Counter(n["type"] for n in await everything_seen(gateway, creator_auth))
        return types if types["DISPUTE_WON"] and types["PAYOUT_FAILED"] else Counter()

    types = await eventually(seen)
    assert (types["DISPUTE_CREATED"], types["DISPUTE_WON"], types["PAYOUT_FAILED"]) == (1, 1, 1)
    assert not types["DISPUTE_LOST"]

    async def mailed() -> list:
        subjects = [m["Subject"] for m in mail_to(stack.maildir, creator_email)]
        titles = {n["type"]: n["title"] for n in await everything_seen(gateway, creator_auth)}
        wanted = [titles["DISPUTE_WON"], titles["PAYOUT_FAILED"]]
        return subjects if all(title in subjects for title in wanted) else []

    assert await eventually(mailed)
