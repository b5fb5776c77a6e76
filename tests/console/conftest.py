"""A running desk for console tests, with a channel faked at the adapter boundary, and small helpers."""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import aiohttp
import pytest
from aiohttp import web

from bot.actions.inbox import receive_message
from bot.domain import InboundMessage, Receipt
from bot.errors import DeliveryError
from tests.conftest import LiveServer, free_port, make_settings

CHANNEL = "fakechat"
CANNED = [
    {"title": "Hello", "language": "en", "text": "Hello! How can I help?"},
    {"title": "Sveiki", "language": "lv", "text": "Sveiki! Kā varu palīdzēt?"},
    {"title": "Привет", "language": "ru", "text": "Здравствуйте! Чем помочь?"},
]


class FakeChannel:
    """Records what the outbox sends; fails every send with `fail_with` while it is set."""

    name = CHANNEL

    def __init__(self) -> None:
        self.sent = []
        self.fail_with: str = ""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message) -> str:
        if self.fail_with:
            raise DeliveryError(self.fail_with, permanent=True)
        self.sent.append(message)
        return f"fake-{message.message_id}"


@dataclass
class Console(LiveServer):
    channel: FakeChannel = field(default_factory=FakeChannel)

    async def client_writes(self, text: str, user: str = "visitor-1", name: str = "", chat: str = "", **kw) -> Receipt:
        """A client message through the inbox, as any channel adapter hands it over."""
        self._seq = getattr(self, "_seq", 0) + 1
        return await receive_message(self.desk, InboundMessage(
            channel=CHANNEL, user_id=user, chat_id=chat or user, message_id=f"{user}:{self._seq}", text=text,
            sent_at=datetime.now(timezone.utc), user_name=name, **kw))

    async def socket(self, session: aiohttp.ClientSession, origin: str | None = None) -> aiohttp.ClientWebSocketResponse:
        return await session.ws_connect(f"{self.url}/console/ws", origin=origin or self.url)


@pytest.fixture
async def console(tmp_path, database_url):
    """The desk on loopback with the web chat off and a fake channel, so deliveries are under the test's control."""
    from bot.app import ADAPTERS, create_app
    from bot.web import DESK

    settings = make_settings(tmp_path, database_url, channels={"webchat": {"enabled": False}}, canned_responses=CANNED)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(settings, public_url=url, auto_migrate=True)
    server = Console(app, url, app[DESK])
    app[ADAPTERS][CHANNEL] = server.channel  # the delivery worker shares this dict
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield server
    await runner.cleanup()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def frame(ws: aiohttp.ClientWebSocketResponse, kind: str | None = None, timeout: float = 10) -> dict:
    """The next frame (of a kind, skipping others), or fail after the timeout."""
    async def wait() -> dict:
        while True:
            msg = await ws.receive()
            assert msg.type is aiohttp.WSMsgType.TEXT, f"socket ended: {msg.type} {msg.data} {msg.extra}"
            data = json.loads(msg.data)
            if kind is None or data["type"] == kind:
                return data

    return await asyncio.wait_for(wait(), timeout)

