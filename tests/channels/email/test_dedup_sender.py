"""A Message-ID is chosen by the sender, so de-duplication counts it per sender: a stranger who sends a mail
under the Message-ID of someone's future mail does not get that mail dropped as a duplicate, and each of
the two is still stored exactly once however often it is delivered again."""
from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import Message, Ticket
from tests.channels.email.conftest import email_channel, email_settings
from tests.channels.email.mails import mail, reply_to
from tests.channels.email.test_threading import CLIENT, ingest, sent_reply, ticket

STRANGER = "mallory@example.net"
VICTIMS_ID = "future.1@example.com"


async def stored(desk) -> list[tuple[str, str]]:
    async with desk.sessions() as s:
        return [(m.text, t.client_id) for m, t in (await s.execute(
            select(Message, Ticket).join(Ticket, Ticket.id == Message.ticket_id).where(Message.direction == "in")
            .order_by(Message.id))).all()]


async def test_a_strangers_mail_under_someone_elses_message_id_does_not_drop_theirs(desk):
    channel = email_channel(desk, email_settings())
    squat = mail(STRANGER, "Hello", VICTIMS_ID, "I got here first.")
    real = mail(CLIENT, "My order", VICTIMS_ID, "My order NW-1 is late.")
    for raw in (squat, real, squat, real):  # each delivered twice (an IMAP re-poll, an SMTP retry)
        assert await channel._ingest_for("")(raw, "")
    rows = await stored(desk)
    assert [text for text, _ in rows] == ["I got here first.", "My order NW-1 is late."]
    assert rows[0][1] != rows[1][1]  # two clients, each with their own mail


async def test_a_repeat_from_the_same_sender_is_still_a_duplicate_and_threading_still_works(desk, smtp_sink):
    channel = email_channel(desk, email_settings(sink_port=smtp_sink.port))
    first = await ingest(channel, mail(CLIENT, "Where is my order?", "first.1@example.com", "My order NW-1 is late."))
    assert await channel._ingest_for("")(mail(CLIENT, "Where is my order?", "first.1@example.com",
                                              "My order NW-1 is late."), "")
    assert len(await stored(desk)) == 1
    sent = await sent_reply(desk, channel, smtp_sink, first.ticket_id)
    answer = await ingest(channel, reply_to(sent, f"Anna <{CLIENT}>", "second.2@example.com", "Still nothing."))
    assert answer.ticket_id == first.ticket_id and (await ticket(desk, first.ticket_id)).status == "open"
