"""A reply that reaches the widget late shows in its place after a reconnect.

The visitor asks in the full-page chat. The operator answers twice: the first answer's delivery is
held up, while the second goes out ahead of it (as another desk process's outbox would send it).
The connection drops, the first answer is handed over while no socket is open, and the widget
reconnects: it shows the first answer between the question and the second, each once.
"""
from playwright.async_api import expect
from sqlalchemy import select

from bot.actions.operators import log_in
from bot.actions.tickets import reply_to_ticket
from bot.app import ADAPTERS
from bot.domain import OutboundMessage
from bot.storage.models import Ticket
from channels.webchat.normalize import visitor_key
from tests.channels.webchat.conftest import HeldDelivery

TIMEOUT = 15_000
QUESTION = "Is the Fjord sofa available in grey?"
FIRST = "Yes, grey is in stock."
SECOND = "It ships within 3 days."


async def test_a_reply_delivered_after_a_newer_one_shows_in_its_place_after_a_reconnect(live_server, browser, screenshot):
    adapter = live_server.app[ADAPTERS]["webchat"]
    await live_server.add_operator("anna", queues=("general",))
    _, viewer = await log_in(live_server.desk, "anna", "password-123")

    context = await browser.new_context(viewport={"width": 800, "height": 760}, locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{live_server.url}/chat")
    await page.fill("#hl-input", QUESTION)
    await page.click("#hl-send")
    await expect(page.locator(".hl-msg[data-author='client']")).to_have_attribute("data-state", "sent", timeout=TIMEOUT)
    token = await page.evaluate("localStorage.getItem('helpline.webchat.token')")
    async with live_server.desk.sessions() as s:
        ticket = (await s.execute(select(Ticket.id).where(Ticket.chat_id == visitor_key(token)))).scalar_one()

    held = HeldDelivery(adapter, FIRST)
    first = await reply_to_ticket(live_server.desk, viewer, ticket, FIRST)
    second = await reply_to_ticket(live_server.desk, viewer, ticket, SECOND)
    await adapter.send(OutboundMessage(channel="webchat", chat_id=visitor_key(token), text=SECOND, message_id=second,
                                       ticket_public_id="", author_name="Anna"))
    texts = page.locator(".hl-msg .hl-text")
    await expect(texts).to_have_text([QUESTION, SECOND], timeout=TIMEOUT)

    # The connection drops and the desk refuses new ones while the first reply is handed over.
    await adapter.close_connections()
    await expect(page.locator("#hl-status")).to_have_attribute("data-state", "reconnecting", timeout=TIMEOUT)
    await held.release()
    await adapter.start()

    await expect(page.locator("#hl-status")).to_have_attribute("data-state", "online", timeout=TIMEOUT)
    await expect(texts).to_have_text([QUESTION, FIRST, SECOND], timeout=TIMEOUT)
    await expect(page.locator(".hl-msg[data-author='operator']")).to_have_count(2)
    await screenshot(page, "chat-late-reply")
    await context.close()
