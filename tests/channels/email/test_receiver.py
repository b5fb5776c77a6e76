"""The built-in SMTP receiver against a real SMTP client (aiosmtplib) on loopback."""
from __future__ import annotations

import aiosmtplib
import pytest
from sqlalchemy import select

from bot.gateway import DeskGateway
from bot.storage.models import Message, StoredAttachment, Ticket
from tests.channels.email.conftest import SUPPORT, email_channel, email_settings, eml
from tests.channels.email.mails import mail
from tests.conftest import free_port


@pytest.fixture
async def receiver(desk):
    """The email channel with only its receiver, started; yields (channel, port)."""
    port = free_port()
    channel = email_channel(desk, email_settings(receiver_port=port, max_message_bytes=25 * 1024 * 1024,
                                                 messages_per_sender_per_hour=3))
    await channel.start()
    yield channel, port
    await channel.stop()
    await channel.stop()  # stop is safe twice


async def send(port: int, raw: bytes, sender: str = "client@example.com", to: str = SUPPORT):
    return await aiosmtplib.send(raw, sender=sender, recipients=[to], hostname="127.0.0.1", port=port,
                                 start_tls=False, timeout=30)


async def messages(desk) -> list[Message]:
    async with desk.sessions() as s:
        return list((await s.execute(select(Message).order_by(Message.id))).scalars())


async def test_250_comes_after_the_mail_is_committed(desk, receiver):
    _, port = receiver
    errors, reply = await send(port, eml("win1251_attachment.eml"))
    assert not errors and reply.startswith("2.0.0 OK: stored as message")
    [stored] = await messages(desk)  # already committed when the client saw 250
    assert stored.external_id == "20261208101500.4411@mail.example.ru" and stored.raw_key
    assert desk.files.read(stored.raw_key).endswith(eml("win1251_attachment.eml")[-200:])
    async with desk.sessions() as s:
        [pdf] = list((await s.execute(select(StoredAttachment))).scalars())
        ticket = await s.get(Ticket, stored.ticket_id)
    assert pdf.filename == "Счёт NW-104233.pdf" and ticket.subject == "Не пришёл заказ NW-104233"
    assert ticket.chat_id == "ivan.petrov@example.ru"


async def test_a_storage_failure_answers_451_and_acknowledges_nothing(desk):
    class Down(DeskGateway):
        async def receive(self, message):
            raise OSError("database is down")

    port = free_port()
    channel = email_channel(desk, email_settings(receiver_port=port), gateway=Down(desk))
    await channel.start()
    try:
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await send(port, mail("a@example.com", "hi", "down.1@example.com"))
        assert refused.value.code == 451
    finally:
        await channel.stop()
    assert await messages(desk) == []


async def test_other_domains_get_550(receiver):
    _, port = receiver
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send(port, mail("a@example.com", "hi", "relay.1@example.com"), to="someone@elsewhere.example")
    assert refused.value.recipients[0].code == 550
    assert "accepts mail only for northwind.example" in refused.value.recipients[0].message


async def test_mail_over_the_size_limit_is_refused_with_552_and_the_receiver_keeps_serving(desk, receiver):
    _, port = receiver
    big = mail("big@example.com", "a 20 MB attachment", "big.1@example.com")
    from email import message_from_bytes, policy

    message = message_from_bytes(big, policy=policy.default)
    message.add_attachment(b"\0" * (20 * 1024 * 1024), maintype="application", subtype="pdf", filename="big.pdf")
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await send(port, message.as_bytes())
    assert refused.value.code == 552
    await send(port, mail("small@example.com", "after", "small.1@example.com"))
    assert [m.external_id for m in await messages(desk)] == ["small.1@example.com"]


async def test_garbage_and_broken_mail_are_stored_safely_and_the_receiver_keeps_serving(desk, receiver):
    _, port = receiver
    for raw in (b"\x00\xff\xfe\r\nnot a mail at all \x00\r\n", eml("broken_base64.eml"), eml("nul_bytes.eml"),
                b"Subject: =?utf-8?B?!!!?=\r\nFrom: <<<>>>\r\n\r\nbody\r\n"):
        errors, reply = await send(port, raw)
        assert not errors and "OK" in reply
    stored = await messages(desk)
    assert len(stored) == 4 and all("\x00" not in m.text for m in stored)


async def test_an_empty_message_is_refused(receiver):
    _, port = receiver
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send(port, b"\r\n")
    assert refused.value.code == 554


async def test_a_sender_over_its_hourly_limit_is_told_to_retry_later(desk, receiver):
    _, port = receiver
    for i in range(3):
        await send(port, mail("storm@example.com", "again", f"storm.{i}@example.com"))
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send(port, mail("storm@example.com", "again", "storm.3@example.com"))
    assert refused.value.code == 451
    await send(port, mail("calm@example.com", "hello", "calm.1@example.com"))  # others are not slowed
    assert len(await messages(desk)) == 4


async def test_the_same_mail_delivered_twice_is_stored_once(desk, receiver):
    _, port = receiver
    raw = mail("twice@example.com", "hello", "twice.1@example.com")
    await send(port, raw)
    await send(port, raw)
    assert len(await messages(desk)) == 1
