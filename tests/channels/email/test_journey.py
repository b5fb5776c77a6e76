"""The issue's "done" journey on a running desk: a windows-1251 mail with a file becomes a ticket, the
operator's reply leaves threaded, the client's answer threads back, an out-of-office gets no answer,
a bounce marks the reply failed. (Mail fetched once after downtime: test_imap.py.)"""
from __future__ import annotations

import asyncio
from email import message_from_bytes, policy

import aiosmtplib
from aiohttp import web
from sqlalchemy import select

from bot.actions.tickets import reply_to_ticket
from bot.app import create_app
from bot.events import DeliveryChanged
from bot.storage.models import Message, OutboxItem, StoredAttachment, Ticket
from bot.web import DESK
from tests.channels.email.conftest import DOMAIN, SUPPORT, eml, operator
from tests.channels.email.mails import reply_to
from tests.conftest import free_port, make_settings


async def test_the_email_journey(tmp_path, database_url, smtp_sink):
    port = free_port()
    settings = make_settings(tmp_path, database_url, channels={"email": {
        "receiver": {"host": "127.0.0.1", "port": port, "domains": [DOMAIN]},
        "smtp": {"host": "127.0.0.1", "port": smtp_sink.port, "security": "none", "from_address": SUPPORT}}})
    app = create_app(settings, auto_migrate=True)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()  # runs the cleanup contexts: storage, channels (the receiver listens), workers
    desk = app[DESK]
    sent_events: list[DeliveryChanged] = []
    delivered = asyncio.Event()

    async def on_delivery(event: DeliveryChanged) -> None:
        sent_events.append(event)
        delivered.set()

    desk.bus.subscribe(DeliveryChanged, on_delivery)

    async def smtp(raw: bytes, sender: str) -> None:
        await aiosmtplib.send(raw, sender=sender, recipients=[SUPPORT], hostname="127.0.0.1", port=port,
                              start_tls=False, timeout=30)

    try:
        # 1. The Russian mail in windows-1251 with its invoice becomes a ticket.
        await smtp(eml("win1251_attachment.eml"), "ivan.petrov@example.ru")
        async with desk.sessions() as s:
            ticket = (await s.execute(select(Ticket))).scalar_one()
            [invoice] = list((await s.execute(select(StoredAttachment))).scalars())
        assert ticket.subject == "Не пришёл заказ NW-104233" and invoice.filename == "Счёт NW-104233.pdf"

        # 2. An operator answers; the reply leaves with threading headers.
        await reply_to_ticket(desk, await operator(desk), ticket.id, "Иван, посылка у курьера, будет завтра.")
        await asyncio.wait_for(delivered.wait(), 30)  # a guard: the outbox worker is woken at once
        [(_, _, raw)] = smtp_sink.received
        sent = message_from_bytes(raw, policy=policy.default)
        assert sent["In-Reply-To"] == "<20261208101500.4411@mail.example.ru>"
        assert sent["Subject"] == f"Re: Не пришёл заказ NW-104233 [#{ticket.number}]"

        # 3. The client's answer threads back into the same ticket.
        await smtp(reply_to(raw, "Ivan Petrov <ivan.petrov@example.ru>", "answer.1@example.ru", "Спасибо!"),
                   "ivan.petrov@example.ru")
        # 4. Their out-of-office reply is stored, reopens nothing, and nothing answers it.
        await smtp(reply_to(raw, "ivan.petrov@example.ru", "ooo.1@example.ru", "I am on vacation.",
                            Auto_Submitted="auto-replied"), "ivan.petrov@example.ru")
        async with desk.sessions() as s:
            inbound = list((await s.execute(select(Message).where(Message.direction == "in")
                                            .order_by(Message.id))).scalars())
            pending = list((await s.execute(select(OutboxItem).where(OutboxItem.status != "sent"))).scalars())
        assert [m.ticket_id for m in inbound] == [ticket.id] * 3
        assert [m.automated for m in inbound] == [False, False, True]
        assert pending == []

        # 5. A bounce of the reply marks it failed, with the reason.
        our_id = sent["Message-ID"].strip("<>")
        delivered.clear()
        await smtp(eml("dsn_failed.eml").replace(b"hl.502.bbbb@northwind.example", our_id.encode()), "mailer-daemon@mx.example.com")
        await asyncio.wait_for(delivered.wait(), 30)
        async with desk.sessions() as s:
            reply = (await s.execute(select(Message).where(Message.direction == "out"))).scalar_one()
        assert reply.delivery_status == "failed" and "550 5.1.1" in reply.delivery_error
        assert sent_events[-1].status == "failed"
    finally:
        await runner.cleanup()


async def test_the_self_service_bot_never_answers_an_auto_reply(desk):
    """Tickets the bot holds wait for its answer after a person's mail, never after an out-of-office."""
    from bot.actions.selfservice import tickets_waiting_for_bot
    from bot.gateway import DeskGateway
    from channels.email.adapter import EmailChannel
    from tests.channels.email.conftest import email_settings
    from tests.channels.email.mails import mail

    ingest = EmailChannel(email_settings(), DeskGateway(desk))._ingest_for("")
    await ingest(mail("ooo@example.com", "Out of office", "ooo.2@example.com", "Away.", Auto_Submitted="auto-replied"), "")
    await ingest(mail("person@example.com", "Question", "person.2@example.com", "Where is my order?"), "")
    async with desk.sessions() as s:
        tickets = {t.chat_id: t.id for t in (await s.execute(select(Ticket))).scalars()}
    assert await tickets_waiting_for_bot(desk) == [tickets["person@example.com"]]
