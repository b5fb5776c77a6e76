"""Nothing is lost: a restart in the middle of a form, and a crash between a client's message and the reply."""
from __future__ import annotations

from datetime import datetime, timezone

import aiohttp
from sqlalchemy import func, select

from bot.actions.context import Desk
from bot.actions.inbox import receive_message
from bot.actions.setup import sync_queues
from bot.dialogue.setup import build_self_service
from bot.dialogue.worker import DialogueWorker
from bot.domain import InboundMessage
from bot.events import EventBus, TicketHandedOff
from bot.storage.engine import create_engine, session_factory
from bot.storage.files import AttachmentStore
from bot.storage.migrate import upgrade
from bot.storage.models import BotDialogue, Message, Note, Ticket
from tests.channels.webchat.conftest import Chat
from tests.dialogue.conftest import bot_settings, start_bot_desk
from tests.dialogue.test_webchat import bot_turn, handing_off


async def test_a_restart_in_the_middle_of_a_form_loses_nothing(tmp_path, database_url):
    settings = bot_settings(tmp_path, database_url)
    server, runner = await start_bot_desk(settings)
    try:
        async with aiohttp.ClientSession() as session:
            chat = Chat(server, session)
            visitor = await chat.visitor(locale="lv")
            await bot_turn(visitor, "a1", "Kur ir mans pasūtījums?")
            replies = await bot_turn(visitor, "a2", "Nē", payload="Nē")
            assert "pasūtījuma numurs" in replies[-1]["text"]
            token, seen = visitor.token, max(f["message_id"] for f in visitor.frames if f["type"] == "message")
    finally:
        await runner.cleanup()  # the whole desk stops: sockets, workers, engine

    server, runner = await start_bot_desk(settings)
    try:
        async with aiohttp.ClientSession() as session:
            chat = Chat(server, session)
            visitor = await chat.visitor(token=token, last_seen=seen, locale="lv")
            replies = await bot_turn(visitor, "a3", "NW-246810")
            assert "e-pasta adresi" in replies[-1]["text"]  # the form went on where it stopped
            await bot_turn(visitor, "a4", "Izlaist", payload="Izlaist", until=handing_off)
            async with server.desk.sessions() as s:
                ticket = (await s.execute(select(Ticket))).scalar_one()
                note = (await s.execute(select(Note.text).where(Note.ticket_id == ticket.id))).scalar_one()
            assert ticket.handed_off_at is not None and "NW-246810" in note
    finally:
        await runner.cleanup()


async def test_a_message_stored_before_a_crash_is_answered_once_after_it(tmp_path, database_url):
    """The inbox commits, the process dies before the bot replies: the first pass after start-up answers it."""
    settings = bot_settings(tmp_path, database_url)
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    desk = Desk(session_factory(engine), EventBus(), settings,
                AttachmentStore(settings.attachments_dir, settings.attachments.max_bytes, settings.attachments.allowed_types))
    await sync_queues(desk)
    handed_off = []
    try:
        await receive_message(desk, InboundMessage(channel="webchat", user_id="v1", chat_id="v1", message_id="v1:1",
                                                   text="Wir brauchen ein Angebot für 30 Tische im Großhandel", locale_hint="de",
                                                   sent_at=datetime.now(timezone.utc)))
        # No worker ran: the message is stored and unanswered (the crash).
        worker = DialogueWorker(desk, build_self_service(settings))
        desk.bus.subscribe(TicketHandedOff, lambda event: _record(handed_off, event))
        assert await worker.run_once() == 1
        await worker.settle()
        assert await worker.run_once() == 0  # answered exactly once, however often a pass runs
        await desk.bus.drain()
        async with desk.sessions() as s:
            bot = (await s.execute(select(func.count()).select_from(Message).where(Message.author_kind == "bot"))).scalar_one()
            dialogue = (await s.execute(select(BotDialogue))).scalar_one()
            last_in = (await s.execute(select(func.max(Message.id)).where(Message.direction == "in"))).scalar_one()
        assert bot >= 2 and dialogue.last_message_id == last_in and dialogue.language == "de"
        assert dialogue.stage == "form"  # the article is English-only: it asks the email, then hands off
        assert handed_off == []
    finally:
        await desk.bus.drain()
        await engine.dispose()


async def _record(found: list, event) -> None:
    found.append(event)


async def test_hand_off_publishes_the_event_for_the_router(tmp_path, database_url):
    settings = bot_settings(tmp_path, database_url)
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    desk = Desk(session_factory(engine), EventBus(), settings,
                AttachmentStore(settings.attachments_dir, settings.attachments.max_bytes, settings.attachments.allowed_types))
    await sync_queues(desk)
    events = []
    desk.bus.subscribe(TicketHandedOff, lambda event: _record(events, event))
    try:
        receipt = await receive_message(desk, InboundMessage(channel="webchat", user_id="v2", chat_id="v2", message_id="v2:1",
                                                             text="человек", locale_hint="ru",
                                                             sent_at=datetime.now(timezone.utc)))
        await DialogueWorker(desk, build_self_service(settings)).settle()
        await desk.bus.drain()
        assert [(e.ticket_id, e.reason) for e in events] == [(receipt.ticket_id, "client asked")]
    finally:
        await engine.dispose()


async def test_a_form_left_unanswered_goes_to_a_person_after_the_timeout(tmp_path, database_url):
    from datetime import timedelta

    from bot.actions.selfservice import hand_off_abandoned

    settings = bot_settings(tmp_path, database_url, form_timeout_minutes=15)
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    desk = Desk(session_factory(engine), EventBus(), settings,
                AttachmentStore(settings.attachments_dir, settings.attachments.max_bytes, settings.attachments.allowed_types))
    await sync_queues(desk)
    service = build_self_service(settings)
    try:
        await receive_message(desk, InboundMessage(channel="webchat", user_id="v3", chat_id="v3", message_id="v3:1",
                                                   text="Do you sell second-hand cars?", locale_hint="en",
                                                   sent_at=datetime.now(timezone.utc)))
        await DialogueWorker(desk, service).settle()
        now = datetime.now(timezone.utc)
        assert await hand_off_abandoned(desk, service, now + timedelta(minutes=14)) == 0  # not yet
        assert await hand_off_abandoned(desk, service, now + timedelta(minutes=16)) == 1
        assert await hand_off_abandoned(desk, service, now + timedelta(minutes=30)) == 0  # once
        async with desk.sessions() as s:
            ticket = (await s.execute(select(Ticket))).scalar_one()
            note = (await s.execute(select(Note.text))).scalar_one()
            last = (await s.execute(select(Message.text).order_by(Message.id.desc()))).scalars().first()
        assert ticket.handed_off_at is not None and "client left the form" in note and "Email: " not in note
        assert last.startswith("Thank you.")
    finally:
        await desk.bus.drain()
        await engine.dispose()


async def test_a_message_on_a_resolved_ticket_is_not_the_bots(tmp_path, database_url):
    """After "Yes, it helped" the ticket is resolved; a survey answer joins it without reopening it."""
    from sqlalchemy import update

    settings = bot_settings(tmp_path, database_url)
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    desk = Desk(session_factory(engine), EventBus(), settings,
                AttachmentStore(settings.attachments_dir, settings.attachments.max_bytes, settings.attachments.allowed_types))
    await sync_queues(desk)
    worker = DialogueWorker(desk, build_self_service(settings))
    try:
        async def say(n: int, text: str):
            return await receive_message(desk, InboundMessage(channel="webchat", user_id="v4", chat_id="v4", message_id=f"v4:{n}",
                                                              text=text, locale_hint="en", sent_at=datetime.now(timezone.utc)))
        receipt = await say(1, "how much does delivery cost?")
        await worker.settle()
        await say(2, "Yes")
        await worker.settle()
        async with desk.sessions() as s:
            assert (await s.get(Ticket, receipt.ticket_id)).status == "resolved"
            bot_before = (await s.execute(select(func.count()).select_from(Message).where(Message.author_kind == "bot"))).scalar_one()
        # What the survey does: a message joins the resolved ticket, which stays resolved.
        async with desk.sessions() as s, s.begin():
            s.add(Message(ticket_id=receipt.ticket_id, channel="webchat", direction="in", author_kind="client", text="5",
                          external_id="v4:3", delivery_status="received"))
            await s.execute(update(Ticket).where(Ticket.id == receipt.ticket_id).values(status="resolved"))
        await worker.settle()
        async with desk.sessions() as s:
            bot_after = (await s.execute(select(func.count()).select_from(Message).where(Message.author_kind == "bot"))).scalar_one()
            dialogue = await s.get(BotDialogue, receipt.ticket_id)
        assert bot_after == bot_before and dialogue.stage == "ask"
    finally:
        await desk.bus.drain()
        await engine.dispose()


def test_a_missing_knowledge_base_stops_start_up_with_the_key(tmp_path):
    import pytest

    from bot.app import create_app
    from bot.errors import ConfigError

    settings = bot_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", knowledge_base=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="bot.knowledge_base"):
        create_app(settings)
