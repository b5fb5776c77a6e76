"""An operator whose browser asks for German switches the console to Latvian from the header: the page
and the texts the console's script writes itself (live badge, a new ticket row) follow, and the choice stays."""
from __future__ import annotations

from playwright.async_api import expect

from tests.console.conftest import console  # noqa: F401 (fixture)

TIMEOUT = 10_000


async def test_switching_the_console_language(console, browser, screenshot):  # noqa: F811
    await console.add_operator("anna", queues=("general",))
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="de-DE",
                                        extra_http_headers={"Accept-Language": "de-DE,de;q=0.9"})
    page = await context.new_page()
    await page.goto(f"{console.url}/console/login")
    await expect(page.locator("h1")).to_have_text("Mitarbeiterkonsole")
    await page.fill("#username", "anna")
    await page.fill("#password", "password-123")
    await page.click("#login")
    await expect(page.locator("h1")).to_have_text("Meine und nicht zugewiesene", timeout=TIMEOUT)
    await expect(page.locator("#live-state.on")).to_have_text("live", timeout=TIMEOUT)

    await page.select_option("#language-switch select", "lv")  # saves on choosing: no button to press
    await expect(page.locator("html")).to_have_attribute("lang", "lv", timeout=TIMEOUT)
    await expect(page.locator("h1")).to_have_text("Mani un nepiešķirtie")
    await expect(page.locator("#live-state.on")).to_have_text("reāllaikā", timeout=TIMEOUT)

    receipt = await console.client_writes("Kur ir mans pasūtījums?")
    row = page.locator(f'.ticket-row[data-number="{receipt.ticket_number}"]')
    await expect(row.locator(".status")).to_have_text("jauns", timeout=TIMEOUT)  # written by console.js
    await expect(row.locator(".assignee")).to_have_text("nav piešķirts")
    await screenshot(page, "console-latvian")

    await page.reload()
    await expect(page.locator("h1")).to_have_text("Mani un nepiešķirtie")  # stored, over the browser's German
    await context.close()
