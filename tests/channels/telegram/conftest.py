"""Telegram test harness: the real adapter (real aiogram) against the fake Bot API on loopback.

Waits end on something happening, never on time passing: a stored message (re-checked on
every desk event), an update confirmed to the fake server (getUpdates with an offset past it,
which the adapter sends only after the commit), or a request the fake server answered. The
timeouts only turn a bug into a failure instead of a hung run.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.actions.context import Desk
from bot.actions.setup import sync_queues
from bot.events import DeliveryChanged, EventBus, MessageEdited, MessageQueued, MessageReceived, TicketChanged
from bot.gateway import DeskGateway
from bot.outbox import DeliveryWorker
from bot.storage.engine import create_engine, session_factory
from bot.storage.files import AttachmentStore
from bot.storage.migrate import upgrade
from bot.storage.models import ChannelIdentity, Client, Message, OutboxItem, Ticket
from tests.conftest import LiveServer, free_port, make_settings
from tests.fakes.telegram_api import TOKEN, FakeBotAPI
from tests.fakes.telegram_updates import TelegramUser

WAIT = 15.0
BACKOFF = (0.05, 0.2)  # retries in tests come quickly; production waits from 1 s up to a minute
FAST = {"chat_messages_per_second": 1000.0, "messages_per_second": 1000.0}


def bot_settings(api_url: str, **overrides) -> dict:
    """One bot's config table pointing at the fake server, with short waits for tests."""
    return {"token": TOKEN, "api_server": api_url, "polling_timeout": 1, "album_wait_seconds": 0.3, **FAST, **overrides}


@pytest.fixture
async def fake_api():
    fake = FakeBotAPI()
    await fake.start(free_port())
    yield fake
    await fake.stop()
    fake.check()


@dataclass
class TelegramDesk:
    """A migrated desk with one Telegram bot; the outbox worker runs only when a test starts it."""

    desk: Desk
    fake: FakeBotAPI
    adapters: dict
    name: str = "telegram"
    user: TelegramUser = field(default_factory=TelegramUser)
    worker: DeliveryWorker | None = None

    @property
    def adapter(self):
        return self.adapters[self.name]

    async def until(self, check, what: str = "", timeout: float = WAIT) -> None:
        """Wait until ``await check()`` holds; re-checked on every desk event and every fake-server answer."""
        await until(self.desk, self.fake, check, what, timeout)

    async def acked(self, *update_ids: int) -> None:
        """Wait until the adapter confirmed these updates (it does so only after committing them)."""
        top = max(update_ids)
        await self.fake.wait_until(lambda: any(o is not None and o > top for o in self.fake.offsets), WAIT,
                                   f"an offset past update {top}")

    async def messages(self, direction: str = "in") -> list[Message]:
        async with self.desk.sessions() as s:
            rows = await s.execute(select(Message).options(selectinload(Message.attachments))
                                   .where(Message.channel == self.name, Message.direction == direction).order_by(Message.id))
            return list(rows.scalars())

    async def tickets(self) -> list[Ticket]:
        async with self.desk.sessions() as s:
            return list((await s.execute(select(Ticket).where(Ticket.channel == self.name).order_by(Ticket.id))).scalars())

    async def identity(self, external_id: str | None = None) -> tuple[ChannelIdentity, Client]:
        async with self.desk.sessions() as s:
            identity = (await s.execute(select(ChannelIdentity).where(
                ChannelIdentity.channel == self.name,
                ChannelIdentity.external_id == (external_id or str(self.user.id))))).scalar_one()
            return identity, await s.get(Client, identity.client_id)

    async def outbox(self) -> list[OutboxItem]:
        async with self.desk.sessions() as s:
            return list((await s.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars())

    async def start_worker(self) -> DeliveryWorker:
        self.worker = DeliveryWorker(self.desk, self.adapters)
        await self.worker.start()
        return self.worker


async def until(desk: Desk, fake: FakeBotAPI, check, what: str = "", timeout: float = WAIT) -> None:
    """Wait until ``await check()`` holds; re-checked whenever the desk publishes an event or the fake answers."""
    changed = asyncio.Event()

    async def on_event(_event) -> None:
        changed.set()

    kinds = (MessageReceived, MessageEdited, MessageQueued, DeliveryChanged, TicketChanged)
    for kind in kinds:
        desk.bus.subscribe(kind, on_event)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            changed.clear()
            fake.answered_event.clear()
            if await check():
                return
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what or check}")
            waiters = {loop.create_task(changed.wait()), loop.create_task(fake.answered_event.wait())}
            # The bound is a safety net for changes that publish nothing (a state write); events end it first.
            await asyncio.wait(waiters, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
            for task in waiters:
                task.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
    finally:
        for kind in kinds:
            desk.bus.unsubscribe(kind, on_event)


async def open_desk(settings) -> tuple[Desk, object]:
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    desk = Desk(session_factory(engine), EventBus(), settings,
                AttachmentStore(settings.attachments_dir, settings.attachments.max_bytes, settings.attachments.allowed_types))
    await sync_queues(desk)
    return desk, engine


def telegram_settings(tmp_path, database_url, fake: FakeBotAPI, **bot):
    return make_settings(tmp_path, database_url, channels={"telegram": bot_settings(fake.url, **bot)})


@pytest.fixture
async def make_telegram(tmp_path, database_url, fake_api):
    """Build (and start) a desk with a Telegram bot; several may be built in one test (a restart)."""
    from bot.app import build_adapters

    opened: list[TelegramDesk] = []

    async def make(*, start: bool = True, settings=None, **bot) -> TelegramDesk:
        settings = settings or telegram_settings(tmp_path, database_url, fake_api, **bot)
        desk, engine = await open_desk(settings)
        harness = TelegramDesk(desk, fake_api, build_adapters(settings, DeskGateway(desk)))
        opened.append((harness, engine))
        harness.adapter.backoff = BACKOFF
        if start:
            await harness.adapter.start()
        return harness

    yield make
    for harness, engine in reversed(opened):
        if harness.worker:
            await harness.worker.stop()
        await harness.adapter.stop()
        await harness.desk.bus.drain()
        await engine.dispose()


@pytest.fixture
async def telegram(make_telegram) -> TelegramDesk:
    """A desk polling one bot through the fake Bot API."""
    return await make_telegram()


async def start_app(settings, port: int | None = None) -> tuple[LiveServer, web.AppRunner]:
    """The whole desk (console, outbox, channels) on loopback."""
    from bot.app import create_app
    from bot.web import DESK

    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(settings, public_url=url, auto_migrate=True)
    runner = web.AppRunner(app, access_log=None)
    try:
        await runner.setup()
    except BaseException:
        await runner.cleanup()  # what started before the failure (the database) is closed again
        raise
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return LiveServer(app, url, app[DESK]), runner
