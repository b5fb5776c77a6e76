"""A Latvian visitor and the bot in a real browser: an answer, buttons that survive a reload, a person.

The buttons are the widget's rendering of the bot's choices; a reload shows them again (they are
stored with the message) until the visitor answers, and the hand-off button gets a person.
"""
from playwright.async_api import expect

from tests.dialogue.conftest import bot_settings, start_bot_desk

TIMEOUT = 15_000


async def test_bot_buttons_in_the_widget(tmp_path, database_url, browser, screenshot):
    server, runner = await start_bot_desk(bot_settings(tmp_path, database_url))
    try:
        visitor = await browser.new_context(viewport={"width": 520, "height": 760}, locale="lv-LV")
        page = await visitor.new_page()
        await page.goto(f"{server.url}/chat")
        await page.fill("#hl-input", "Cik ilgi jāgaida piegāde uz Rīgu?")
        await page.click("#hl-send")
        buttons = page.locator(".hl-choices .hl-choice")
        await expect(buttons).to_have_text(["Jā", "Nē", "Runāt ar cilvēku"], timeout=TIMEOUT)
        await expect(page.locator(".hl-msg[data-author='bot']").nth(1)).to_contain_text("darba dienās")
        await screenshot(page, "bot-widget")

        await page.reload()
        await expect(page.locator(".hl-choices .hl-choice")).to_have_text(["Jā", "Nē", "Runāt ar cilvēku"], timeout=TIMEOUT)
        await page.locator(".hl-choice", has_text="Runāt ar cilvēku").click()
        await expect(page.locator(".hl-msg[data-author='bot']").last).to_contain_text("Nododu jūs cilvēkam", timeout=TIMEOUT)
        await expect(page.locator(".hl-choices")).to_have_count(0)
        await page.reload()
        await expect(page.locator(".hl-msg[data-author='bot']").last).to_contain_text("Nododu jūs cilvēkam", timeout=TIMEOUT)
        await expect(page.locator(".hl-choices")).to_have_count(0)  # answered: no buttons after a reload either
        await visitor.close()
    finally:
        await runner.cleanup()
