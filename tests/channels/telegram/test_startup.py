"""Start-up: a refused token stops the desk with a clear message; an unreachable API is retried while the desk serves."""
from __future__ import annotations

import logging

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import ADAPTERS
from bot.errors import HelplineError
from bot.storage.models import Message
from tests.channels.telegram.conftest import WAIT, bot_settings, start_app
from tests.conftest import free_port, make_settings
from tests.fakes.telegram_api import TOKEN, FakeBotAPI
from tests.fakes.telegram_updates import TelegramUser

WRONG = "987654321:AAwrongWRONGwrongWRONGwrongWRONG"


async def test_a_refused_token_stops_start_up_with_a_clear_message_and_no_retry(make_telegram, fake_api):
    telegram = await make_telegram(start=False, token=WRONG)
    with pytest.raises(HelplineError) as failure:
        await telegram.adapter.start()
    message = str(failure.value)
    assert "Telegram refused the token of the bot 'telegram'" in message and "channels.telegram.token" in message
    assert "not retrying" in message and WRONG.split(":")[1] not in message
    assert fake_api.refused_tokens == 1 and fake_api.calls == []


async def test_the_whole_desk_refuses_to_start_with_a_refused_token(tmp_path, database_url, fake_api):
    settings = make_settings(tmp_path, database_url, channels={"telegram": {"shop": bot_settings(fake_api.url, token=WRONG)}})
    with pytest.raises(HelplineError, match=r"check channels\.telegram\.shop\.token"):
        await start_app(settings)
    assert fake_api.refused_tokens == 1


async def test_an_unreachable_api_is_retried_in_the_background_while_the_desk_serves(tmp_path, database_url, caplog):
    caplog.set_level(logging.INFO, "channels.telegram")
    port = free_port()  # nothing listens there yet
    settings = make_settings(tmp_path, database_url, channels={"telegram": bot_settings(f"http://127.0.0.1:{port}")})
    server, runner = await start_app(settings)
    fake = FakeBotAPI()
    try:
        server.app[ADAPTERS]["telegram"].backoff = (0.05, 0.2)  # only the background retries use it
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}/healthz") as response:
                assert response.status == 200  # the desk serves without Telegram
        assert "cannot be reached" in caplog.text
        await fake.start(port)
        user = TelegramUser()
        [update_id] = fake.push(user.text("Vai strādājat?"))
        await fake.wait_until(lambda: any(o is not None and o > update_id for o in fake.offsets), WAIT, "the update confirmed")
        async with server.desk.sessions() as s:
            texts = list((await s.execute(select(Message.text).where(Message.channel == "telegram"))).scalars())
        assert texts == ["Vai strādājat?"]
        assert "connected as @shop_help_bot" in caplog.text
        assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text
    finally:
        await runner.cleanup()
        await fake.stop()
    fake.check()
