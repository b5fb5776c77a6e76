"""create_app(settings): wires storage, channels, workers and web into one aiohttp application."""
from __future__ import annotations

import logging
from typing import AsyncIterator

from aiohttp import web

from bot.actions.context import Desk
from bot.actions.setup import seed_demo_operators, sync_queues
from bot.config import Settings
from bot.events import ChannelNote, EventBus, OperatorTyping
from bot.gateway import DeskGateway
from bot.outbox import DeliveryWorker
from bot.pgbus import PgEventBus
from bot.storage.engine import create_engine, is_sqlite, session_factory
from bot.storage.files import AttachmentStore
from bot.storage.migrate import is_current, upgrade
from bot.storage.models import Ticket
from bot.web import BUS, DESK, PUBLIC_URL
from channels.base import ChannelAdapter, LiveConnections, ProcessRelay, TypingIndicator, WebRoutes

logger = logging.getLogger(__name__)
ADAPTERS = web.AppKey("adapters", dict)
WORKER = web.AppKey("worker", DeliveryWorker)


class SchemaOutdated(Exception):
    pass


def build_adapters(settings: Settings, gateway: DeskGateway) -> dict[str, ChannelAdapter]:
    """The configured channels, keyed by their channel name."""
    adapters: dict[str, ChannelAdapter] = {}
    if settings.channels.webchat.enabled:
        from channels.webchat.adapter import WebchatChannel

        chat = WebchatChannel(settings.channels.webchat, gateway, trusted_proxies=settings.web.trusted_proxies)
        adapters[chat.name] = chat
    if settings.channels.telegram:
        from bot.telegram_config import channel_name, webhook_path
        from channels.telegram.adapter import TelegramChannel  # imports aiogram: only when a bot is configured

        for bot_name, bot in settings.channels.telegram.items():
            key = "channels.telegram.token" if bot_name == "default" else f"channels.telegram.{bot_name}.token"
            adapters[channel_name(bot_name)] = TelegramChannel(
                channel_name(bot_name), bot, gateway, max_bytes=settings.attachments.max_bytes,
                allowed_types=settings.attachments.allowed_types, webhook_path=webhook_path(bot_name, bot), token_key=key)
    if settings.channels.email is not None and settings.channels.email.enabled:
        from channels.email.adapter import EmailChannel

        mail = EmailChannel(settings.channels.email, gateway, desk_name=settings.desk.name,
                            max_attachment_bytes=settings.attachments.max_bytes)
        adapters[mail.name] = mail
    return adapters


def create_app(settings: Settings, *, public_url: str = "", auto_migrate: bool | None = None) -> web.Application:
    """The whole desk as one aiohttp application; storage and workers start in cleanup contexts.

    The embedded SQLite is migrated at start-up; a shared PostgreSQL is migrated by the admin
    (`helpline db upgrade`), and start-up refuses a schema that is behind.
    """
    if auto_migrate is None:
        auto_migrate = is_sqlite(settings.database_url)
    app = web.Application(client_max_size=max(settings.attachments.max_bytes, settings.channels.webchat.max_attachment_bytes) + 1024 * 1024)
    engine = create_engine(settings.database_url)
    # On PostgreSQL several desk processes may share the database: events cross them by LISTEN/NOTIFY.
    bus = EventBus() if is_sqlite(settings.database_url) else PgEventBus(settings.database_url)
    desk = Desk(sessions=session_factory(engine), bus=bus, settings=settings,
                files=AttachmentStore(settings.attachments_dir, settings.attachments.max_bytes, settings.attachments.allowed_types))
    gateway = DeskGateway(desk)
    adapters = build_adapters(settings, gateway)
    worker = DeliveryWorker(desk, adapters)
    app[DESK] = desk
    app[BUS] = bus
    app[ADAPTERS] = adapters
    app[WORKER] = worker
    app[PUBLIC_URL] = public_url or settings.public_url(settings.web.host, settings.web.port)

    async def storage(app: web.Application) -> AsyncIterator[None]:
        if auto_migrate:
            await upgrade(engine)
        elif not await is_current(engine):
            raise SchemaOutdated("the database schema is behind this version: run `helpline db upgrade`")
        await sync_queues(desk)
        created = await seed_demo_operators(desk)
        if created:
            logger.info("created demo operators: %s", ", ".join(created))
        if isinstance(bus, PgEventBus):
            await bus.start()
        yield
        await bus.drain()
        if isinstance(bus, PgEventBus):
            await bus.stop()
        await engine.dispose()

    async def channels(app: web.Application) -> AsyncIterator[None]:
        started = []
        try:
            for adapter in adapters.values():
                await adapter.start()
                started.append(adapter)
            await worker.start()
            yield
        finally:
            await worker.stop()
            for adapter in reversed(started):
                await adapter.stop()

    async def typing_to_channels(event: OperatorTyping) -> None:
        async with desk.sessions() as s:
            ticket = await s.get(Ticket, event.ticket_id)
        adapter = adapters.get(ticket.channel) if ticket else None
        if isinstance(adapter, TypingIndicator):
            await adapter.show_typing(ticket.chat_id)

    bus.subscribe(OperatorTyping, typing_to_channels, everywhere=True)  # the client's socket may be on another process

    if isinstance(bus, PgEventBus):
        # Channels holding client sockets ask their twins in the other processes to act (a reply
        # the outbox sent here for a visitor whose socket is there).
        for name, adapter in adapters.items():
            if isinstance(adapter, ProcessRelay):
                adapter.set_relay(lambda note, name=name: bus.publish_elsewhere(ChannelNote(ticket_id=None, channel=name, note=note)))

        async def relay_to_channel(event: ChannelNote) -> None:
            adapter = adapters.get(event.channel)
            if isinstance(adapter, ProcessRelay):
                await adapter.relayed(event.note)

        bus.subscribe(ChannelNote, relay_to_channel, everywhere=True)

    async def close_live_connections(app: web.Application) -> None:
        for adapter in adapters.values():
            if isinstance(adapter, LiveConnections):
                await adapter.close_connections()

    app.cleanup_ctx.append(storage)
    app.cleanup_ctx.append(channels)
    app.on_shutdown.append(close_live_connections)

    from bot.console.api import setup_api
    from bot.console.pages import setup_console
    from bot.ops import setup_ops

    setup_ops(app)
    setup_api(app)
    setup_console(app)
    from bot.routing_app import setup_routing

    setup_routing(app)
    from bot.feedback.setup import setup_feedback

    setup_feedback(app)
    from bot.dialogue.setup import setup_self_service

    setup_self_service(app)
    from bot.retention_worker import setup_retention

    setup_retention(app)
    for adapter in adapters.values():
        if isinstance(adapter, WebRoutes):
            app.router.add_routes(adapter.routes())
    return app
