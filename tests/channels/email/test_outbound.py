"""Replies leave through the outbox to an SMTP sink (aiosmtpd): headers, threading, escaping, failures."""
from __future__ import annotations

from email import message_from_bytes, policy

from sqlalchemy import select, update

from bot.actions.context import unit_of_work
from bot.actions.tickets import queue_outbound, reply_to_ticket
from bot.domain import Attachment, AuthorKind
from bot.outbox import DeliveryWorker
from bot.storage.models import Message, OutboxItem, Ticket, utcnow
from tests.channels.email.conftest import SUPPORT, email_channel, email_settings, eml, operator
from tests.channels.email.mails import mail

CLIENT = "ivan.petrov@example.ru"


async def setup_ticket(desk, channel):
    assert await channel._ingest_for("billing")(eml("win1251_attachment.eml"), "")
    async with desk.sessions() as s:
        return (await s.execute(select(Ticket))).scalar_one()


async def deliver(desk, channel) -> int:
    return await DeliveryWorker(desk, {"email": channel}).run_once()


async def make_due(desk) -> None:
    async with desk.sessions() as s, s.begin():
        await s.execute(update(OutboxItem).where(OutboxItem.status == "pending").values(next_attempt_at=utcnow()))


async def stored(desk, message_id: int) -> Message:
    async with desk.sessions() as s:
        return await s.get(Message, message_id)


def parsed(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


async def test_an_operator_reply_is_a_threaded_multipart_email(desk, smtp_sink):
    channel = email_channel(desk, email_settings(sink_port=smtp_sink.port))
    ticket = await setup_ticket(desk, channel)
    viewer = await operator(desk)
    text = "Здравствуйте, Иван!\n\n<script>alert(1)</script> & your refund is on its way."
    data = b"%PDF-1.4 label"
    message_id = await reply_to_ticket(desk, viewer, ticket.id, text,
                                       (Attachment("label.pdf", "application/pdf", len(data), data=data),))
    assert await deliver(desk, channel) == 1
    [(envelope_from, recipients, raw)] = smtp_sink.received
    assert envelope_from == SUPPORT and recipients == [CLIENT]
    sent = parsed(raw)
    assert sent["From"].addresses[0].display_name == "Billing" and sent["From"].addresses[0].addr_spec == SUPPORT
    assert sent["To"] == CLIENT
    assert sent["Subject"] == f"Re: Не пришёл заказ NW-104233 [#{ticket.number}]"
    assert sent["In-Reply-To"] == "<20261208101500.4411@mail.example.ru>"
    assert sent["References"] == "<20261208101500.4411@mail.example.ru>"
    assert "Auto-Submitted" not in sent
    plain = sent.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = sent.get_body(("html",)).get_content()
    assert text in plain and f"Ticket #{ticket.number}" in plain
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; your refund" in html
    [label] = [p for p in sent.iter_attachments()]
    assert label.get_filename() == "label.pdf" and label.get_content() == data
    row = await stored(desk, message_id)
    assert row.delivery_status == "sent" and row.external_id == "out:" + sent["Message-ID"].strip("<>")


async def test_the_next_reply_names_the_whole_thread(desk, smtp_sink):
    channel = email_channel(desk, email_settings(sink_port=smtp_sink.port))
    ticket = await setup_ticket(desk, channel)
    viewer = await operator(desk)
    await reply_to_ticket(desk, viewer, ticket.id, "First answer.")
    await deliver(desk, channel)
    first = parsed(smtp_sink.received[0][2])
    await channel._ingest_for("")(mail(CLIENT, first["Subject"], "client.2@example.ru",
                                       in_reply_to=first["Message-ID"]), "")
    await reply_to_ticket(desk, viewer, ticket.id, "Second answer.")
    await deliver(desk, channel)
    second = parsed(smtp_sink.received[1][2])
    assert second["In-Reply-To"] == "<client.2@example.ru>"
    assert second["References"].split() == ["<20261208101500.4411@mail.example.ru>", first["Message-ID"],
                                            "<client.2@example.ru>"]
    assert second["Subject"] == first["Subject"]  # no "Re: Re:" and one ticket tag


async def test_bot_mail_says_auto_submitted_and_lists_choices(desk, smtp_sink):
    channel = email_channel(desk, email_settings(sink_port=smtp_sink.port))
    ticket = await setup_ticket(desk, channel)
    async with unit_of_work(desk) as unit:
        t = await unit.session.get(Ticket, ticket.id)
        await queue_outbound(unit, t, "Did this answer your question?", AuthorKind.BOT, None)
    await deliver(desk, channel)
    sent = parsed(smtp_sink.received[0][2])
    assert sent["Auto-Submitted"] == "auto-replied"


async def test_a_4xx_is_retried_and_then_sent(desk, smtp_sink):
    channel = email_channel(desk, email_settings(sink_port=smtp_sink.port))
    ticket = await setup_ticket(desk, channel)
    message_id = await reply_to_ticket(desk, await operator(desk), ticket.id, "Hello")
    smtp_sink.handler.rcpt_replies.append("451 4.7.1 greylisted, try again later")
    await deliver(desk, channel)
    row = await stored(desk, message_id)
    async with desk.sessions() as s:
        item = (await s.execute(select(OutboxItem))).scalar_one()
    assert row.delivery_status == "queued" and item.status == "pending" and "451" in item.last_error
    await make_due(desk)
    await deliver(desk, channel)
    assert (await stored(desk, message_id)).delivery_status == "sent" and len(smtp_sink.received) == 1


async def test_a_5xx_fails_for_good_with_the_servers_reason(desk, smtp_sink):
    channel = email_channel(desk, email_settings(sink_port=smtp_sink.port))
    ticket = await setup_ticket(desk, channel)
    message_id = await reply_to_ticket(desk, await operator(desk), ticket.id, "Hello")
    smtp_sink.handler.rcpt_replies.append("550 5.1.1 mailbox unavailable")
    await deliver(desk, channel)
    row = await stored(desk, message_id)
    assert row.delivery_status == "failed"
    assert "550 5.1.1 mailbox unavailable" in row.delivery_error and CLIENT in row.delivery_error
    assert smtp_sink.received == []


async def test_an_unreachable_server_is_retried(desk):
    from tests.conftest import free_port

    channel = email_channel(desk, email_settings(sink_port=free_port()))  # nothing listens there
    ticket = await setup_ticket(desk, channel)
    message_id = await reply_to_ticket(desk, await operator(desk), ticket.id, "Hello")
    await deliver(desk, channel)
    async with desk.sessions() as s:
        item = (await s.execute(select(OutboxItem))).scalar_one()
    assert item.status == "pending" and "cannot reach the SMTP server" in item.last_error
    assert (await stored(desk, message_id)).delivery_status == "queued"


async def test_without_outgoing_smtp_a_reply_fails_with_the_reason(desk):
    channel = email_channel(desk, email_settings())
    ticket = await setup_ticket(desk, channel)
    message_id = await reply_to_ticket(desk, await operator(desk), ticket.id, "Hello")
    await deliver(desk, channel)
    row = await stored(desk, message_id)
    assert row.delivery_status == "failed" and "channels.email.smtp" in row.delivery_error
