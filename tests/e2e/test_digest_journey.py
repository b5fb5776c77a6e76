"""A manager opens last week's digest on a month of demo data: themes with masked quotes, CSAT per operator, a red queue."""
from __future__ import annotations

from playwright.async_api import expect
from sqlalchemy import select

from bot.actions.operators import create_operator
from bot.actions.demo_seed import seed_demo
from bot.storage.models import Queue

TIMEOUT = 10_000


async def test_a_manager_reads_last_weeks_digest(live_server, browser, screenshot):
    desk = live_server.desk
    async with desk.sessions() as s, s.begin():  # the demo's queues beside the test desk's own
        have = set((await s.execute(select(Queue.name))).scalars())
        for name in ("returns", "tech", "sales", "complaints"):
            if name not in have:
                s.add(Queue(name=name, title=name.title()))
    await create_operator(desk, "anna", "Anna Berzina", "password-123", "operator", ["general", "billing", "sales"], ["en"])
    await create_operator(desk, "mark", "Mark Kovacs", "password-123", "operator", ["delivery", "returns", "tech"], ["en"])
    await create_operator(desk, "olga", "Olga Shevchenko", "password-123", "supervisor",
                          ["general", "billing", "delivery", "returns", "tech", "sales", "complaints"], ["en"])
    await create_operator(desk, "sofia", "Sofia Lindqvist", "password-123", "manager", [], ["en"])
    await seed_demo(desk, days=30, tickets=900, seed=7)

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(f"{live_server.url}/console/login")
    await page.fill("#username", "sofia")
    await page.fill("#password", "password-123")
    await page.click("#login")
    await page.click("text=Digest")
    await expect(page.locator("h1")).to_contain_text("Managers' digest: week of", timeout=TIMEOUT)
    themes = page.locator("#themes")
    await expect(themes).to_contain_text("Parcel late or not arrived")
    await expect(themes.locator("blockquote").first).to_contain_text("[order]")
    assert "NW-" not in await themes.inner_text()
    await expect(page.locator("#csat_by_operator")).to_contain_text("Mark Kovacs")
    await expect(page.locator("#sla tr.light-row-red").first).to_be_visible()
    assert await page.locator("svg.chart").count() >= 5
    await screenshot(page, "digest", full_page=True)
    await context.close()
