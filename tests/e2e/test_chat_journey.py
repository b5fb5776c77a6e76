"""The newcomer's journey in a real browser: the widget on the demo page, the console, and back.

A visitor opens the demo shop, writes in the chat widget; an operator (a second browser context)
sees the ticket appear live, opens it and replies; the visitor sees the reply in the widget.
"""
from playwright.async_api import expect

TIMEOUT = 15_000


async def test_visitor_and_operator_chat_through_widget_and_console(live_server, browser, screenshot):
    await live_server.add_operator("anna", queues=("general",))

    operator = await browser.new_context(viewport={"width": 1280, "height": 800})
    console = await operator.new_page()
    await console.goto(f"{live_server.url}/console/login")
    await console.fill("#username", "anna")
    await console.fill("#password", "password-123")
    await console.click("#login")
    await expect(console).to_have_url(f"{live_server.url}/console", timeout=TIMEOUT)

    visitor = await browser.new_context(viewport={"width": 1100, "height": 760}, locale="en-GB")
    shop = await visitor.new_page()
    await shop.goto(f"{live_server.url}/")
    await shop.click("#hl-bubble")
    chat = shop.frame_locator("iframe[src*='/chat']")
    await chat.locator("#hl-input").fill("Hello, my order NW-483920 has not arrived yet.")
    await chat.locator("#hl-send").click()
    mine = chat.locator(".hl-msg[data-author='client']")
    await expect(mine).to_contain_text("NW-483920", timeout=TIMEOUT)

    # The ticket shows up in the console without a reload.
    row = console.locator(".ticket-row").first
    await expect(row).to_contain_text("NW-483920", timeout=TIMEOUT)
    await row.click()
    await expect(console.locator(".msg[data-author='client']")).to_contain_text("NW-483920", timeout=TIMEOUT)
    await console.fill("#reply-text", "Sorry for the wait! Your parcel is at the courier's depot and arrives tomorrow.")
    await console.click("#reply-send")
    await expect(console.locator(".msg[data-author='operator']")).to_contain_text("arrives tomorrow", timeout=TIMEOUT)

    reply = chat.locator(".hl-msg[data-author='operator']")
    await expect(reply).to_contain_text("arrives tomorrow", timeout=TIMEOUT)
    # The widget reports the reply as seen, and the console shows it delivered.
    await expect(console.locator(".msg[data-author='operator'] .delivery")).to_contain_text("delivered", timeout=TIMEOUT)

    await screenshot(shop, "widget")
    await screenshot(console, "console")
    await operator.close()
    await visitor.close()
