"""Self-service through Telegram (the real adapter against the fake Bot API): buttons as an inline keyboard."""
from __future__ import annotations

from tests.channels.telegram.conftest import bot_settings as telegram_bot, fake_api, start_app  # noqa: F401 (fixture)
from tests.dialogue.conftest import bot_settings
from tests.fakes.telegram_updates import DATE, TelegramUser

WAIT = 15.0


def keyboard_labels(sent) -> list[str]:
    rows = (sent.reply_markup or {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


async def test_a_hungarian_telegram_client_answers_with_a_button(tmp_path, database_url, fake_api):
    settings = bot_settings(tmp_path, database_url, sections={"channels": {"telegram": telegram_bot(fake_api.url)}})
    server, runner = await start_app(settings)
    user = TelegramUser(id=5099, first_name="Gábor", last_name="Kiss", language_code="hu")
    try:
        fake_api.push(user.text("Hány nap alatt érkezik meg a csomagom Budapestre?"))
        await fake_api.wait_until(lambda: any(keyboard_labels(s) for s in fake_api.sent), WAIT, "the bot's buttons")
        question = next(s for s in fake_api.sent if keyboard_labels(s))
        assert keyboard_labels(question) == ["Igen", "Nem", "Munkatársat kérek"]
        assert any("munkanap" in text for text in fake_api.texts(user.id))
        keyboard_message = {"message_id": question.message_id, "from": {"id": 123456789, "is_bot": True, "first_name": "Shop"},
                            "chat": user.chat, "date": DATE, "text": question.text, "reply_markup": question.reply_markup}
        fake_api.push(user.press("Munkatársat kérek", keyboard_message, "q-1"))
        await fake_api.wait_until(lambda: any("Átadom egy munkatársnak" in t for t in fake_api.texts(user.id)), WAIT,
                                  "the hand-off message")
    finally:
        await runner.cleanup()
