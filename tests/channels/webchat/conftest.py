"""Web chat test helpers: visitors speaking the protocol over a real websocket to a live desk."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from bot.events import DeliveryChanged
from tests.conftest import LiveServer, free_port, make_settings

# A safety net against a hung test, never a way to wait for something: every wait below ends on a
# frame arriving, and this bound only turns a bug into a failure instead of a stuck run.
FRAME_TIMEOUT = 10


@dataclass
class Visitor:
    """One browser tab of a visitor: a websocket and every frame it has received, in order."""

    ws: aiohttp.ClientWebSocketResponse
    token: str = ""
    frames: list[dict] = field(default_factory=list)
    welcome: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)  # the message frames before "synced"

    async def next(self, *types: str) -> dict:
        """The next frame (of one of ``types``, skipping others)."""
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), FRAME_TIMEOUT)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"expected a text frame, got {msg.type!r} {msg.data!r} ({self.ws.close_code})")
            frame = json.loads(msg.data)
            self.frames.append(frame)
            if not types or frame["type"] in types:
                return frame

    async def send(self, frame: dict | str) -> None:
        await self.ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))

    async def say(self, client_id: str, text: str, **extra) -> dict:
        """Send a message and return its ack (error frames fail the test)."""
        await self.send({"type": "message", "id": client_id, "text": text, **extra})
        frame = await self.next("ack", "error")
        assert frame["type"] == "ack", frame
        return frame

    async def message(self, predicate=lambda f: True) -> dict:
        while True:
            frame = await self.next("message")
            if predicate(frame):
                return frame

    async def closed(self) -> aiohttp.WSMessage:
        """The close that ends the socket, after any frames still queued."""
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), FRAME_TIMEOUT)
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.frames.append(json.loads(msg.data))
                continue
            return msg


class Chat:
    """Opens visitors against one live desk."""

    def __init__(self, server: LiveServer, session: aiohttp.ClientSession):
        self.server = server
        self.session = session
        self.url = server.url
        self.desk = server.desk

    async def raw(self, **kw) -> aiohttp.ClientWebSocketResponse:
        return await self.session.ws_connect(f"{self.url}/chat/ws", **kw)

    async def visitor(self, token: str | None = None, last_seen: int = 0, locale: str = "en-GB",
                      have: list[int] | None = None, **kw) -> Visitor:
        """A connected visitor after the resume: welcome, the replayed history, synced.

        ``have``: the message ids the client shows, as the current widget lists them; None speaks as
        an older widget that sends only ``last_seen``.
        """
        visitor = Visitor(await self.raw(**kw))
        hello = {"type": "hello", "token": token, "last_seen": last_seen, "locale": locale}
        if have is not None:
            hello["have"] = have
        await visitor.send(hello)
        visitor.welcome = await visitor.next("welcome")
        visitor.token = visitor.welcome["token"]
        while (frame := await visitor.next("message", "synced"))["type"] == "message":
            visitor.history.append(frame)
        return visitor


def delivered(desk, message_id: int, status: str = "sent") -> asyncio.Future:
    """Resolved once ``message_id`` reaches ``status`` (subscribe before acting): "sent" when the outbox
    has handed it to the adapter, "delivered" when the widget reported it seen."""
    future = asyncio.get_running_loop().create_future()

    async def listener(event) -> None:
        if event.message_id == message_id and event.status == status and not future.done():
            future.set_result(event)
            desk.bus.unsubscribe(DeliveryChanged, listener)

    desk.bus.subscribe(DeliveryChanged, listener)
    return future


async def catch_ups_done(adapter, timeout: float = 10) -> None:
    """Until the adapter has no catch-up pending (bounded). A client message is acknowledged first and
    caught up in every tab after; that catch-up pushes whatever is stored after the socket's cursor,
    replies still queued for delivery included, so a test holding a reply back waits for it first."""
    async def settled():
        while adapter._catching_up or (adapter._catcher is not None and not adapter._catcher.done()):
            await asyncio.sleep(0.01)
    await asyncio.wait_for(settled(), timeout)


class HeldDelivery:
    """The adapter's send of the reply with this text waits until ``release``: a slow delivery, or
    one that another desk process makes later."""

    def __init__(self, adapter, text: str):
        self.gate = asyncio.Event()
        self.done = asyncio.get_running_loop().create_future()
        send = adapter.send

        async def held(message):
            if message.text != text:
                return await send(message)
            await self.gate.wait()
            try:
                return await send(message)
            finally:
                if not self.done.done():
                    self.done.set_result(None)

        adapter.send = held

    async def release(self) -> None:
        """Let the held send run; returns once the adapter has pushed it to whatever sockets are open."""
        self.gate.set()
        await self.done


async def start_desk(tmp_path, database_url, **webchat) -> tuple[LiveServer, web.AppRunner]:
    """The whole desk on loopback, with web chat settings of the test's own."""
    from bot.app import create_app
    from bot.web import DESK

    settings = make_settings(tmp_path, database_url, channels={"webchat": webchat}) if webchat \
        else make_settings(tmp_path, database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(settings, public_url=url, auto_migrate=True)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return LiveServer(app, url, app[DESK]), runner


@pytest.fixture
async def chat(live_server):
    async with aiohttp.ClientSession() as session:
        yield Chat(live_server, session)


@pytest.fixture
async def strict_chat(tmp_path, database_url):
    """A desk with tight web chat limits: 3 messages a minute, 2 sockets per address, 40 characters."""
    server, runner = await start_desk(tmp_path, database_url, messages_per_minute=3, connections_per_address=2,
                                      max_message_chars=40, max_attachment_bytes=2048)
    try:
        async with aiohttp.ClientSession() as session:
            yield Chat(server, session)
    finally:
        await runner.cleanup()
