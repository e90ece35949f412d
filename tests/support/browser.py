"""Driving the console in Debian's Chromium (installed by ./callastar, never
downloaded) with Playwright: sign-in, axe-core accessibility checks and
screenshots at desktop and phone width."""

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CALLASTAR_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "console" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
SERIOUS = {"serious", "critical"}


async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # --no-sandbox: the tests may run as root (CI containers), where Chromium's sandbox cannot start.
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                   args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            await browser.close()


async def signed_in(browser: Browser, gateway_url: str, user_id: str, role: str) -> tuple[BrowserContext, Page]:
    """A fresh browser session signed in through the console's development sign-in form."""
    context = await browser.new_context(base_url=gateway_url, viewport=DESKTOP, accept_downloads=True)
    page = await context.new_page()
    await page.goto("/console/")
    await page.get_by_label("User id").fill(user_id)
    await page.get_by_label("Role").select_option(role)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("button", name="Sign out").wait_for()
    return context, page


async def serious_violations(page: Page) -> list[dict]:
    """axe-core's serious and critical findings on the page as it is now."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol: the console's CSP (no inline script) does not apply.
        await page.evaluate(AXE.read_text() + "\n;0")
    results = await page.evaluate("async () => JSON.stringify((await axe.run(document)).violations)")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in json.loads(results) if v["impact"] in SERIOUS
    ]


async def check_page(page: Page, name: str) -> None:
    """No serious accessibility violation, and a screenshot at desktop and phone width."""
    violations = await serious_violations(page)
    assert not violations, f"{name}: {json.dumps(violations, indent=1)}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png", full_page=True)
    await page.set_viewport_size(PHONE)
    violations = await serious_violations(page)
    assert not violations, f"{name} at phone width: {json.dumps(violations, indent=1)}"
    await page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
    await page.set_viewport_size(DESKTOP)
