"""Webhook mode: Telegram posts to the desk's own server; the secret is checked; 200 only after the commit."""
from __future__ import annotations

import asyncio
import io
import logging

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.storage.models import Message
from tests.channels.telegram.conftest import bot_settings, start_app
from tests.conftest import make_settings
from tests.fakes.telegram_api import TOKEN
from tests.fakes.telegram_updates import TelegramUser

SECRET = "webhook-secret-0123456789ABCDEF"
PATH = "/telegram/default/webhook"


@pytest.fixture
async def webhook_desk(tmp_path, database_url, fake_api, caplog):
    caplog.set_level(logging.INFO, "channels.telegram")
    settings = make_settings(tmp_path, database_url, channels={"telegram": bot_settings(
        fake_api.url, mode="webhook", webhook_secret=SECRET)})
    server, runner = await start_app(settings)
    fake_api.webhook = {"url": server.url + PATH, "secret_token": SECRET, "allowed_updates": None}
    yield server
    await runner.cleanup()


async def stored(server) -> list[Message]:
    async with server.desk.sessions() as s:
        return list((await s.execute(select(Message).options(selectinload(Message.attachments))
                                     .where(Message.channel == "telegram").order_by(Message.id))).scalars())


async def test_the_right_secret_stores_the_update_before_the_answer(webhook_desk, fake_api):
    user = TelegramUser()
    assert await fake_api.deliver(user.text("Sveiki no webhook")) == 200
    # The 200 came after the commit: the message is there the moment the answer is.
    assert [m.text for m in await stored(webhook_desk)] == ["Sveiki no webhook"]
    assert await fake_api.deliver(user.text("Otrā", message_id=500)) == 200
    assert await fake_api.deliver(user.text("Otrā", message_id=500)) == 200  # Telegram posting it again
    assert [m.text for m in await stored(webhook_desk)] == ["Sveiki no webhook", "Otrā"]


@pytest.mark.parametrize("secret", ["", "wrong-secret-0123456789ABCDEF", SECRET[:-1], SECRET + "x"])
async def test_a_wrong_or_missing_secret_is_refused_and_nothing_stored(webhook_desk, fake_api, secret):
    assert await fake_api.deliver(TelegramUser().text("Ielaidiet mani"), secret=secret) == 403
    assert await stored(webhook_desk) == []


async def test_a_body_that_is_not_json_is_refused(webhook_desk):
    async with aiohttp.ClientSession() as session:
        async with session.post(webhook_desk.url + PATH, data=b"{not json",
                                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
            assert response.status == 400
        async with session.post(webhook_desk.url + PATH, data=io.BytesIO(b"x" * (2 * 1024 * 1024)),
                                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
            assert response.status == 413


async def test_an_album_posted_item_by_item_is_one_message(webhook_desk, fake_api):
    user = TelegramUser()
    files = [fake_api.add_file(b"\xff\xd8" + bytes([i]) * 500, "photos/file.jpg") for i in range(3)]
    statuses = await asyncio.gather(*(
        fake_api.deliver(user.photo(f, 502, caption="Albums" if i == 0 else "", group="wg1")) for i, f in enumerate(files)))
    assert statuses == [200, 200, 200]
    [album] = await stored(webhook_desk)
    assert album.text == "Albums" and len(album.attachments) == 3


async def test_the_token_is_in_no_route_and_no_log_line(webhook_desk, caplog):
    paths = [r.resource.canonical for r in webhook_desk.app.router.routes() if r.resource is not None]
    assert PATH in paths
    assert not any(TOKEN in p or TOKEN.split(":")[1] in p for p in paths)
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text


async def test_start_up_says_when_telegram_has_no_webhook(tmp_path, database_url, fake_api, caplog):
    caplog.set_level(logging.INFO, "channels.telegram")
    settings = make_settings(tmp_path, database_url, channels={"telegram": bot_settings(
        fake_api.url, mode="webhook", webhook_secret=SECRET)})
    server, runner = await start_app(settings)
    try:
        await fake_api.wait_until(lambda: "getWebhookInfo" in fake_api.calls, 10, "the webhook check")
        await fake_api.wait_until(lambda: "Telegram has no webhook" in caplog.text, 10, "the warning")
        assert "helpline telegram set-webhook https://YOUR-HOST/telegram/default/webhook" in caplog.text
        assert "getUpdates" not in fake_api.calls  # webhook mode never polls
    finally:
        await runner.cleanup()
