"""A supervisor keeps the Follow-ups page open; a client's low score with a comment appears on it
without a reload (text shown as text), and the nav counts it."""
from __future__ import annotations

import re
from datetime import timedelta

from playwright.async_api import expect
from sqlalchemy import select

from bot.actions.surveys import answer_by_link, schedule_missed, send_due_surveys
from bot.storage.models import Message, Survey, Ticket, utcnow
from tests.feedback.conftest import fserver, operator, resolved_ticket  # noqa: F401 (fixture)

TIMEOUT = 10_000


async def _answer_low(desk, ticket_id: int, comment: str) -> int:
    """The ticket's survey goes out; the client answers 1 with a comment by the link. The ticket's number."""
    await schedule_missed(desk)
    await send_due_surveys(desk, "http://desk.test", now=utcnow() + timedelta(hours=2))
    async with desk.sessions() as s:
        text = (await s.execute(select(Message.text).join(Survey, Survey.message_id == Message.id)
                                .where(Survey.ticket_id == ticket_id))).scalar_one()
        number = (await s.get(Ticket, ticket_id)).number
    await answer_by_link(desk, re.search(r"/survey/([\w-]+)", text).group(1), 1, comment)
    return number


async def test_a_new_follow_up_appears_on_the_open_page(fserver, browser, screenshot):  # noqa: F811
    desk = fserver.desk
    anna = await operator(desk, "anna", queues=("general",))
    await operator(desk, "olga", role="supervisor", queues=("general",))
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(f"{fserver.url}/console/login")
    await page.fill("#username", "olga")
    await page.fill("#password", "password-123")
    await page.click("#login")
    await page.goto(f"{fserver.url}/console/follow-ups")
    await expect(page.locator("#follow-ups")).to_contain_text("Nothing to follow up", timeout=TIMEOUT)
    await expect(page.locator("#live-state.on")).to_be_visible(timeout=TIMEOUT)  # the socket is open

    ticket_id = await resolved_ticket(desk, anna, "My order is <b>late</b>")
    number = await _answer_low(desk, ticket_id, "Nobody <img src=x onerror=alert(1)> helped")

    card = page.locator("#follow-ups .follow-up.fresh")
    await expect(card).to_contain_text(f"#{number}", timeout=TIMEOUT)
    await expect(card).to_contain_text("score 1: Nobody <img src=x onerror=alert(1)> helped")
    await expect(card.locator("img")).to_have_count(0)  # shown as text, never as markup
    await expect(card.locator(f'a[href="/console/tickets/{number}"]')).to_be_visible()
    await expect(page.locator("#follow-ups")).not_to_contain_text("Nothing to follow up")
    await expect(page.locator('a[href="/console/follow-ups"] .live-count')).to_have_text("1")
    await screenshot(page, "follow-up-live")
    await context.close()
