"""The console in a real browser (Debian's Chromium, driven by Playwright)
against the running test stack: what creators and admins do with it, checked
for accessibility (axe-core: no serious or critical violation) on every page,
with screenshots at desktop and phone width written to docs/screenshots/."""

import csv
import io
import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.browser import check_page, chromium, signed_in
from tests.support.polling import eventually

from .conftest import Gateway, new_id, payment_intent_succeeded
from .test_payouts import balance_is, earn, onboard, payout_where, stripe_payout_event
from .test_refunds_disputes import DisputeStory, charge_of, deliver, paid

LIVE_S = 20_000  # ms: a notification's way from a Stripe webhook to the browser, on a busy machine


@pytest.fixture(scope="session")
async def browser(stack) -> AsyncIterator[Browser]:
    async for opened in chromium():
        yield opened


async def open_bell(page: Page) -> None:
    if await page.get_by_test_id("bell").get_attribute("aria-expanded") != "true":
        await page.get_by_test_id("bell").click()


async def test_a_payout_from_the_payment_arriving_live_to_the_payout_paid(gateway: Gateway, browser: Browser,
                                                                          stack) -> None:
    creator = new_id("creator")
    account = await onboard(gateway, creator)
    await earn(gateway, creator, 10000)  # 85.00 EUR available; payouts now knows the creator holds EUR

    context, page = await signed_in(browser, stack.gateway_url, creator, "creator")
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    await expect(page.get_by_test_id("balance-EUR").get_by_test_id("available")).to_have_text(re.compile(r"EUR\s?85\.00"))
    await expect(page.get_by_test_id("unread-badge")).to_have_text("1")
    await page.evaluate("window.stillTheSamePage = true")

    # A fan pays again: the bell and the balance change without a reload.
    intent = await gateway.create_intent(new_id("fan"), creator, 10000, "EUR")
    assert (await gateway.send_webhook(payment_intent_succeeded(intent))).status_code == 200
    await expect(page.get_by_test_id("unread-badge")).to_have_text("2", timeout=LIVE_S)
    await expect(page.get_by_test_id("balance-EUR").get_by_test_id("available")).to_have_text(
        re.compile(r"EUR\s?170\.00"), timeout=LIVE_S)
    assert await page.evaluate("window.stillTheSamePage") is True
    await open_bell(page)
    await expect(page.get_by_test_id("notification").filter(has_text="New payment received")).to_have_count(2)
    await check_page(page, "creator-bell")

    # The notification opens its payment's console page (the link emails carry too).
    await page.get_by_test_id("notification").first.get_by_role("link", name="Open").click()
    await expect(page).to_have_url(re.compile(rf"/console/payments/{intent['payment_id']}$"))
    await expect(page.get_by_test_id("payment-status")).to_have_text(re.compile("succeeded", re.I))
    await check_page(page, "payment")
    await page.get_by_role("link", name="Dashboard").click()

    # Request payout: the amount is prefilled with what is available; a double click makes one payout.
    await expect(page.get_by_label("Amount (EUR)")).to_have_value("170.00")
    await expect(page.get_by_test_id("payout-net")).to_have_text(re.compile(r"EUR\s?170\.00"))
    await check_page(page, "creator-dashboard")
    await page.get_by_role("button", name="Request payout").dblclick()
    await expect(page.get_by_role("status")).to_contain_text("Payout requested", timeout=LIVE_S)
    mine = (await gateway.http.get("/api/payouts", headers=gateway.auth(creator, "creator"))).json()["items"]
    assert len(mine) == 1 and mine[0]["requested_minor"] == 17000
    payout_id = mine[0]["payout_id"]
    await payout_where(gateway, creator, payout_id, funds_reserved=True)

    # The payout's creator, signed in as an admin, is refused by separation of duties, and told so.
    self_context, self_page = await signed_in(browser, stack.gateway_url, creator, "admin")
    await self_page.goto(f"/console/admin/payouts/{payout_id}")
    await self_page.get_by_role("button", name=re.compile("Approve")).click()
    await expect(self_page.get_by_test_id("separation-of-duties")).to_contain_text("separation of duties")
    await self_context.close()

    # An admin reviews it in the modal: net, debt deducted, history; approves; sees the audit trail.
    admin_context, admin = await signed_in(browser, stack.gateway_url, new_id("admin"), "admin")
    await expect(admin.get_by_role("heading", name="Payouts", level=1)).to_be_visible()
    await admin.get_by_label("Creator", exact=True).fill(creator)
    await admin.get_by_role("button", name="Apply filters").click()
    await expect(admin.get_by_test_id("payout-row")).to_have_count(1)
    await check_page(admin, "admin-payouts")
    await admin.get_by_role("button", name=f"Review payout of {creator}").click()
    modal = admin.get_by_role("dialog", name="Review payout")
    await expect(modal.get_by_test_id("review-net")).to_have_text(re.compile(r"EUR\s?170\.00"))
    await expect(modal.get_by_test_id("review-debt")).to_have_text(re.compile(r"EUR\s?0\.00"))
    await check_page(admin, "admin-payout-review")
    await modal.get_by_role("button", name=re.compile("Approve and pay")).click()
    await expect(modal.get_by_test_id("review-status")).to_have_text(re.compile("processing", re.I), timeout=LIVE_S)
    trail = (await gateway.http.get(f"/api/admin/payouts/{payout_id}/audit",
                                    headers=gateway.auth(new_id("admin"), "admin"))).json()["items"]
    assert [row["new_state"] for row in trail][-1] == "PROCESSING"
    await expect(modal.get_by_test_id("audit-trail").get_by_role("listitem")).to_have_count(len(trail))
    await expect(modal.get_by_test_id("chain-status")).to_contain_text("Hash chain verified")
    await check_page(admin, "admin-payout-approved")
    await admin_context.close()

    # Stripe says the payout was paid: the creator's bell shows it, live.
    processing = await payout_where(gateway, creator, payout_id, status="PROCESSING")
    paid_event = stripe_payout_event("payout.paid", processing, account)
    assert (await gateway.send_webhook(paid_event, connect=True)).status_code == 200
    await open_bell(page)
    await expect(page.get_by_test_id("notification").filter(has_text="Payout paid")).to_have_count(1, timeout=LIVE_S)
    await expect(page.get_by_test_id("payout-row").first).to_have_attribute("data-status", "PAID", timeout=LIVE_S)
    await page.get_by_test_id("notification").filter(has_text="Payout paid").get_by_role("link", name="Open").click()
    await expect(page.get_by_test_id("payout-status")).to_have_text(re.compile("paid", re.I))
    await check_page(page, "creator-payout")
    await balance_is(gateway, creator, available_minor=0, reserved_minor=0)
    await context.close()


async def test_an_admin_filters_disputes_and_the_csv_holds_exactly_the_rows_shown(gateway: Gateway, databases,
                                                                                  browser: Browser, stack) -> None:
    creator, other = new_id("creator"), new_id("creator")
    stories = []
    for who in (creator, creator, creator, other):
        intent, succeeded = await paid(gateway, databases, who)
        stories.append(DisputeStory(intent, charge_of(succeeded), 3000))
    open_ones = stories[:2]
    refundable, _ = await paid(gateway, databases, other)
    await deliver(gateway, *(story.created() for story in stories))
    await deliver(gateway, stories[2].funds_withdrawn(), stories[2].closed("won"))

    admin_id = new_id("admin")

    async def listed() -> bool:
        answer = await gateway.http.get("/api/admin/disputes", params={"creator_id": creator},
                                        headers=gateway.auth(admin_id, "admin"))
        return {d["status"] for d in answer.json()["items"]} == {"needs_response", "won"}

    await eventually(listed)

    context, page = await signed_in(browser, stack.gateway_url, admin_id, "admin")
    await page.get_by_role("link", name="Disputes").click()
    await page.get_by_label("Creator", exact=True).fill(creator)
    await page.get_by_label("Status", exact=True).select_option("needs_response")
    await page.get_by_label("Sort", exact=True).select_option("oldest")
    await page.get_by_role("button", name="Apply filters").click()
    rows = page.get_by_test_id("case-row")
    await expect(rows).to_have_count(2)
    shown = [await row.get_attribute("data-id") for row in await rows.all()]
    await check_page(page, "admin-disputes")

    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Export CSV").click()
    download = await download_info.value
    text = (await download.path()).read_text()
    exported = list(csv.DictReader(io.StringIO(text)))
    assert [row["dispute_id"] for row in exported] == shown
    assert {row["creator_id"] for row in exported} == {creator}
    assert {row["status"] for row in exported} == {"needs_response"}
    assert {(row["amount"], row["currency"]) for row in exported} == {("30.00", "EUR")}
    assert {s.id for s in open_ones} == {row["stripe_dispute_id"] for row in exported}

    # Refund part of a payment, through its page's confirmation step.
    await page.get_by_role("link", name="Refunds").click()
    await check_page(page, "admin-refunds")
    await page.get_by_label("Payment id").fill(refundable["payment_id"])
    await page.get_by_role("button", name="Open payment").click()
    await page.get_by_label("Part of it").check()
    await page.get_by_label("Amount (EUR)").fill("12.50")
    await page.get_by_role("button", name="Review refund").click()
    await expect(page.get_by_role("group", name="Confirm the refund")).to_contain_text("12.50")
    await check_page(page, "admin-refund-confirm")
    await page.get_by_role("button", name="Confirm refund").click()
    await expect(page.get_by_test_id("refund-row")).to_contain_text(re.compile(r"EUR\s?12\.50"), timeout=LIVE_S)
    await context.close()


async def test_a_creator_cannot_reach_admin_pages(gateway: Gateway, browser: Browser, stack) -> None:
    creator = new_id("creator")
    context, page = await signed_in(browser, stack.gateway_url, creator, "creator")
    await expect(page.get_by_role("navigation", name="Main").get_by_role("link")).to_have_text(["Dashboard"])
    for path in ("/console/admin/payouts", "/console/admin/disputes", "/console/admin/refunds"):
        await page.goto(path)
        await expect(page.get_by_role("heading", name="Not for your role")).to_be_visible()
        await expect(page.get_by_role("table")).to_have_count(0)
    await check_page(page, "creator-forbidden")
    # and the API behind those pages refuses the creator's token too
    for path in ("/api/admin/payouts", "/api/admin/disputes", "/api/admin/refunds"):
        assert (await gateway.http.get(path, headers=gateway.auth(creator, "creator"))).status_code == 403
    await context.close()


async def test_sign_in_page(browser: Browser, stack) -> None:
    context = await browser.new_context(base_url=stack.gateway_url)
    page = await context.new_page()
    await page.goto("/console/payouts/anything")  # a deep link without a session: the sign-in
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await check_page(page, "sign-in")
    await context.close()


async def test_the_identity_providers_hand_off_signs_in_and_leaves_no_token_in_the_address(
        gateway: Gateway, browser: Browser, stack) -> None:
    creator = new_id("creator")
    token = gateway.auth(creator, "creator")["Authorization"].removeprefix("Bearer ")
    context = await browser.new_context(base_url=stack.gateway_url)
    page = await context.new_page()
    await page.goto(f"/console/dashboard#token={token}")
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    await expect(page.get_by_text(creator)).to_be_visible()
    assert "token" not in page.url
    assert await page.evaluate("sessionStorage.getItem('callastar.token')") == token
    await context.close()


async def test_the_bell_polls_every_30_s_while_the_stream_is_refused(gateway: Gateway, browser: Browser,
                                                                     stack) -> None:
    creator = new_id("creator")
    context, page = await signed_in(browser, stack.gateway_url, creator, "creator")
    await context.route("**/api/notifications/stream", lambda route: route.abort())
    await page.reload()  # a new session of the app, whose stream cannot connect
    await page.get_by_test_id("bell").click()
    await expect(page.get_by_text("polling every 30 s")).to_be_visible()
    await expect(page.get_by_test_id("unread-badge")).to_have_count(0)

    intent = await gateway.create_intent(new_id("fan"), creator, 2500, "EUR")
    assert (await gateway.send_webhook(payment_intent_succeeded(intent))).status_code == 200
    await expect(page.get_by_test_id("unread-badge")).to_have_text("1", timeout=30_000 + LIVE_S)
    await expect(page.get_by_test_id("notification")).to_contain_text("You earned 21.25 EUR")
    await context.close()
