"""A reply that reaches the widget late is "delivered" only once the widget has shown it.

The operator answers twice; the first answer's delivery is held up while the second goes out ahead
of it. The widget shows the second and reports it seen: the console may call the second delivered,
never the first. Then the first is pushed; the widget shows it in its place, below the id it already
reported, and reports seen again, so the first becomes delivered too.
"""
import asyncio

from playwright.async_api import expect
from sqlalchemy import select

from bot.actions.operators import log_in
from bot.actions.tickets import reply_to_ticket
from bot.app import ADAPTERS
from bot.domain import OutboundMessage
from bot.storage.models import Message, Ticket
from channels.webchat.normalize import visitor_key
from tests.channels.webchat.conftest import HeldDelivery, catch_ups_done, delivered

TIMEOUT = 15_000
QUESTION = "Is the Fjord sofa available in grey?"
FIRST = "Yes, grey is in stock."
SECOND = "It ships within 3 days."


async def test_a_late_reply_is_delivered_only_after_the_widget_showed_it(live_server, browser):
    desk = live_server.desk
    adapter = live_server.app[ADAPTERS]["webchat"]
    await live_server.add_operator("anna", queues=("general",))
    _, viewer = await log_in(desk, "anna", "password-123")

    context = await browser.new_context(viewport={"width": 800, "height": 760}, locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{live_server.url}/chat")
    await page.fill("#hl-input", QUESTION)
    await page.click("#hl-send")
    await expect(page.locator(".hl-msg[data-author='client']")).to_have_attribute("data-state", "sent", timeout=TIMEOUT)
    token = await page.evaluate("localStorage.getItem('helpline.webchat.token')")
    async with desk.sessions() as s:
        ticket = (await s.execute(select(Ticket.id).where(Ticket.chat_id == visitor_key(token)))).scalar_one()

    await catch_ups_done(adapter)  # the question's catch-up, run after the first reply, would carry it along
    held = HeldDelivery(adapter, FIRST)
    first = await reply_to_ticket(desk, viewer, ticket, FIRST)
    second = await reply_to_ticket(desk, viewer, ticket, SECOND)
    second_delivered = delivered(desk, second, "delivered")
    await adapter.send(OutboundMessage(channel="webchat", chat_id=visitor_key(token), text=SECOND, message_id=second,
                                       ticket_public_id="", author_name="Anna"))
    texts = page.locator(".hl-msg .hl-text")
    await expect(texts).to_have_text([QUESTION, SECOND], timeout=TIMEOUT)
    await asyncio.wait_for(second_delivered, TIMEOUT / 1000)  # the widget reported it seen
    async with desk.sessions() as s:
        assert (await s.get(Message, first)).delivery_status == "queued"

    first_delivered = delivered(desk, first, "delivered")
    await held.release()
    await expect(texts).to_have_text([QUESTION, FIRST, SECOND], timeout=TIMEOUT)
    await asyncio.wait_for(first_delivered, TIMEOUT / 1000)  # reported again after showing the late one
    await context.close()
