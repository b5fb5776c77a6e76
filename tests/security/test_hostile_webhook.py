"""The Telegram webhook takes junk bodies and hostile updates without a 5xx (which Telegram would post
again and again) and keeps storing the next client's message."""
from __future__ import annotations

import aiohttp
from sqlalchemy import select

from bot.storage.models import Message
from tests.channels.telegram.conftest import fake_api  # noqa: F401 (a fixture)
from tests.channels.telegram.test_webhook import PATH, SECRET, webhook_desk  # noqa: F401 (a fixture)
from tests.fakes.telegram_updates import TelegramUser
from tests.security.hostile import PAYLOAD


async def test_junk_bodies_are_refused_and_hostile_updates_are_stored_or_ignored(webhook_desk, fake_api):
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        for body in (b"[" * 50_000 + b"]" * 50_000, b'{"update_id": 1, "message": "\xff\xfe"}', b"\x00" * 100):
            async with session.post(webhook_desk.url + PATH, data=body, headers=headers) as r:
                assert r.status == 400, (body[:20], r.status)
        for update in ({"update_id": 7}, [], {"update_id": 8, "\x00" * 300: {}}, {"update_id": "9", "message": {}},
                       {"update_id": 10, "message": {"message_id": 1, "chat": {"id": 1, "type": "\x00" * 50}, "from": {"id": 1}}}):
            async with session.post(webhook_desk.url + PATH, json=update, headers=headers) as r:
                assert r.status == 200, (str(update)[:40], r.status, await r.text())
    user = TelegramUser(first_name=PAYLOAD + "\x00", last_name="\ud800")
    assert await fake_api.deliver(user.text(PAYLOAD + "\x00\x1b")) == 200
    assert await fake_api.deliver(TelegramUser(id=4242).text("an ordinary question")) == 200
    async with webhook_desk.desk.sessions() as s:
        texts = list((await s.execute(select(Message.text).where(Message.channel == "telegram").order_by(Message.id))).scalars())
    assert texts == [PAYLOAD, "an ordinary question"]  # the hostile one verbatim but for what cannot be stored
