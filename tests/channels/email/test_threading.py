"""Threading: replies join their ticket by In-Reply-To, References or [#N]; strangers never join."""
from __future__ import annotations

import dataclasses
from email import message_from_bytes, policy

from sqlalchemy import select

from bot.actions.tickets import reply_to_ticket, resolve_ticket
from bot.events import MessageReceived
from bot.outbox import DeliveryWorker
from bot.storage.models import Message, Ticket
from tests.channels.email.conftest import email_channel, email_settings, operator
from tests.channels.email.mails import mail, reply_to

CLIENT = "anna.client@example.com"


async def ingest(channel, raw: bytes):
    """The mailbox path: normalize, store (a bounce marks its message), as the IMAP poller does."""
    assert await channel._ingest_for("")(raw, "")
    async with channel.desk.desk.sessions() as s:
        return (await s.execute(select(Message).order_by(Message.id.desc()).limit(1))).scalar_one()


async def ticket(desk, ticket_id) -> Ticket:
    async with desk.sessions() as s:
        return await s.get(Ticket, ticket_id)


async def sent_reply(desk, channel, sink, ticket_id, text="We are on it.") -> bytes:
    """An operator replies; the outbox sends it to the sink; returns the mail as the client receives it."""
    viewer = await operator(desk)
    await reply_to_ticket(desk, viewer, ticket_id, text)
    before = len(sink.received)
    assert await DeliveryWorker(desk, {"email": channel}).run_once() == 1
    assert len(sink.received) == before + 1
    return sink.received[-1][2]


async def opened(channel, sender=CLIENT, subject="Where is my order?", message_id="first.1@example.com"):
    return await ingest(channel, mail(sender, subject, message_id, "My order NW-1 is late."))


async def test_a_reply_by_in_reply_to_joins_the_ticket_and_answers_it(desk, smtp_sink):
    channel = email_channel(desk, email_settings(sink_port=smtp_sink.port))
    first = await opened(channel)
    sent = await sent_reply(desk, channel, smtp_sink, first.ticket_id)
    assert (await ticket(desk, first.ticket_id)).status == "waiting"
    answer = await ingest(channel, reply_to(sent, f"Anna <{CLIENT}>", "second.2@example.com", "Still nothing."))
    assert answer.ticket_id == first.ticket_id and answer.text == "Still nothing."
    assert (await ticket(desk, first.ticket_id)).status == "open"


async def test_a_reply_by_references_alone_joins(desk, smtp_sink):
    channel = email_channel(desk, email_settings(sink_port=smtp_sink.port))
    first = await opened(channel)
    sent = await sent_reply(desk, channel, smtp_sink, first.ticket_id)
    our_id = message_from_bytes(sent, policy=policy.default)["Message-ID"]
    answer = await ingest(channel, mail(CLIENT, "no tag here", "r.3@example.com", references=f"<x@y> {our_id}"))
    assert answer.ticket_id == first.ticket_id


async def test_a_reply_by_the_ticket_number_in_the_subject_alone_joins(desk):
    channel = email_channel(desk, email_settings())
    first = await opened(channel)
    number = (await ticket(desk, first.ticket_id)).number
    answer = await ingest(channel, mail(CLIENT, f"Re: Where is my order? [#{number}]", "r.4@example.com"))
    assert answer.ticket_id == first.ticket_id


async def test_a_stranger_with_forged_headers_and_number_opens_their_own_ticket(desk, smtp_sink):
    channel = email_channel(desk, email_settings(sink_port=smtp_sink.port))
    first = await opened(channel)
    victim = await ticket(desk, first.ticket_id)
    sent = await sent_reply(desk, channel, smtp_sink, first.ticket_id)
    forged = reply_to(sent, "mallory@example.net", "forged.5@example.net", "Please send the refund to me.")
    assert f"[#{victim.number}]" in message_from_bytes(forged, policy=policy.default)["Subject"]
    stranger = await ingest(channel, forged)
    assert stranger.ticket_id != first.ticket_id
    theirs = await ticket(desk, stranger.ticket_id)
    assert theirs.client_id != victim.client_id and theirs.mentioned_ticket_id == victim.id
    async with desk.sessions() as s:
        texts = list((await s.execute(select(Message.text).where(Message.ticket_id == victim.id))).scalars())
    assert "Please send the refund to me." not in texts


async def test_a_new_mail_without_references_opens_a_new_ticket(desk):
    channel = email_channel(desk, email_settings())
    first = await opened(channel)
    second = await ingest(channel, mail(CLIENT, "Another question", "new.6@example.com"))
    assert second.ticket_id != first.ticket_id


async def test_a_reply_within_the_reopen_window_reopens_the_resolved_ticket(desk):
    channel = email_channel(desk, email_settings())
    first = await opened(channel)
    number = (await ticket(desk, first.ticket_id)).number
    await resolve_ticket(desk, await operator(desk), first.ticket_id)
    answer = await ingest(channel, mail(CLIENT, f"Re: [#{number}]", "r.7@example.com", "It broke again."))
    assert answer.ticket_id == first.ticket_id
    assert (await ticket(desk, first.ticket_id)).status == "open"


async def test_after_the_reopen_window_a_new_ticket_links_the_old_one(desk):
    settings = desk.settings.model_copy(update={"desk": desk.settings.desk.model_copy(update={"reopen_window_days": 0})})
    desk = dataclasses.replace(desk, settings=settings)
    channel = email_channel(desk, email_settings())
    first = await opened(channel)
    number = (await ticket(desk, first.ticket_id)).number
    await resolve_ticket(desk, await operator(desk), first.ticket_id)
    answer = await ingest(channel, mail(CLIENT, f"Re: [#{number}]", "r.8@example.com", "It broke again."))
    assert answer.ticket_id != first.ticket_id
    new = await ticket(desk, answer.ticket_id)
    assert new.previous_ticket_id == first.ticket_id and new.mentioned_ticket_id is None
    assert (await ticket(desk, first.ticket_id)).status == "resolved"


async def test_the_same_message_id_is_stored_once(desk):
    channel = email_channel(desk, email_settings())
    raw = mail(CLIENT, "Twice", "dup.9@example.com")
    first = await ingest(channel, raw)
    receipt = await channel.desk.receive(dataclasses.replace(
        (await _normalized(channel, raw)), queue_hint="billing"))  # the same mail through another mailbox
    assert receipt.duplicate and receipt.message_id == first.id
    async with desk.sessions() as s:
        assert len(list((await s.execute(select(Message.id))).scalars())) == 1


async def _normalized(channel, raw):
    from channels.email.normalize import normalize

    return normalize(raw, limits=channel.limits).message


async def test_an_out_of_office_reply_joins_but_reopens_nothing_and_is_marked_automated(desk, smtp_sink):
    channel = email_channel(desk, email_settings(sink_port=smtp_sink.port))
    received = []

    async def listener(event):
        received.append(event)

    desk.bus.subscribe(MessageReceived, listener)
    first = await opened(channel)
    sent = await sent_reply(desk, channel, smtp_sink, first.ticket_id)
    ooo = reply_to(sent, CLIENT, "ooo.10@example.com", "I am out of the office.", Auto_Submitted="auto-replied")
    stored = await ingest(channel, ooo)
    await desk.bus.drain()
    assert stored.ticket_id == first.ticket_id and stored.automated
    assert (await ticket(desk, first.ticket_id)).status == "waiting"  # still waiting for the client
    assert [e.automated for e in received] == [False, True]
    assert await DeliveryWorker(desk, {"email": channel}).run_once() == 0  # nothing answers it


async def test_a_bounce_marks_the_reply_failed_and_stays_in_the_ticket(desk, smtp_sink):
    channel = email_channel(desk, email_settings(sink_port=smtp_sink.port))
    first = await opened(channel)
    sent = await sent_reply(desk, channel, smtp_sink, first.ticket_id)
    our_id = message_from_bytes(sent, policy=policy.default)["Message-ID"].strip("<>")
    from tests.channels.email.conftest import eml

    bounce = eml("dsn_failed.eml").replace(b"hl.502.bbbb@northwind.example", our_id.encode())
    for _ in range(2):  # a repeated report changes nothing
        stored = await ingest(channel, bounce)
    assert stored.ticket_id == first.ticket_id and stored.author_kind == "system" and stored.automated
    async with desk.sessions() as s:
        reply = (await s.execute(select(Message).where(Message.direction == "out"))).scalar_one()
        count = len(list((await s.execute(select(Message.id).where(Message.ticket_id == first.ticket_id))).scalars()))
    assert reply.delivery_status == "failed" and "550 5.1.1" in reply.delivery_error
    assert count == 3
