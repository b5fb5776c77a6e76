"""A message's files (and late parts' files): saved side by side, each named by the right row."""
import threading
from datetime import datetime, timezone

from sqlalchemy import select

from bot.actions.inbox import receive_message
from bot.actions.message_parts import add_message_parts
from bot.domain import Attachment, InboundMessage
from bot.storage.models import Message, StoredAttachment

RAW = b"From: jane@example.com\r\nSubject: hi\r\n\r\n<p>Hello</p>\r\n"
HTML = "<p>Hello</p>"
PDF = b"%PDF-1.4 not really"
PNG = b"\x89PNG not really"


def html_mail() -> InboundMessage:
    return InboundMessage(
        channel="email", user_id="jane@example.com", chat_id="jane@example.com", message_id="m1@example.com",
        text="Hello", sent_at=datetime.now(timezone.utc), raw=RAW, html=HTML,
        attachments=(Attachment("a.pdf", "application/pdf", len(PDF), data=PDF),
                     Attachment("b.png", "image/png", len(PNG), data=PNG)))


async def test_an_html_mails_files_are_saved_side_by_side(desk, monkeypatch):
    # Four files (original, HTML copy, two attachments): a barrier of four lets each save finish only
    # once all four are being saved at once, so saving them one after another breaks it.
    barrier = threading.Barrier(4, timeout=60)
    save = desk.files.save

    def save_together(data, **kw):
        barrier.wait()
        return save(data, **kw)

    monkeypatch.setattr(desk.files, "save", save_together)
    receipt = await receive_message(desk, html_mail())
    assert not barrier.broken
    async with desk.sessions() as s:
        message = await s.get(Message, receipt.message_id)
        files = (await s.execute(select(StoredAttachment).where(StoredAttachment.message_id == message.id)
                                 .order_by(StoredAttachment.filename))).scalars().all()
    # Each row names its own file, whatever order the saves finished in.
    assert desk.files.read(message.raw_key) == RAW
    assert desk.files.read(message.html_key) == HTML.encode()
    assert [(f.filename, desk.files.read(f.storage_key)) for f in files] == [("a.pdf", PDF), ("b.png", PNG)]


async def test_a_mail_without_html_names_no_html_copy(desk):
    receipt = await receive_message(desk, InboundMessage(
        channel="email", user_id="joe@example.com", chat_id="joe@example.com", message_id="m2@example.com",
        text="Hi", sent_at=datetime.now(timezone.utc), raw=b"Subject: hi\r\n\r\nHi\r\n"))
    async with desk.sessions() as s:
        message = await s.get(Message, receipt.message_id)
    assert message.html_key == "" and desk.files.read(message.raw_key) == b"Subject: hi\r\n\r\nHi\r\n"


async def test_late_parts_save_their_files_side_by_side(desk, monkeypatch):
    first = await receive_message(desk, InboundMessage(
        channel="email", user_id="ann@example.com", chat_id="ann@example.com", message_id="m3@example.com",
        text="Photos", sent_at=datetime.now(timezone.utc)))
    barrier = threading.Barrier(2, timeout=60)  # two files: each save goes on only while the other is under way
    save = desk.files.save

    def save_together(data, **kw):
        barrier.wait()
        return save(data, **kw)

    monkeypatch.setattr(desk.files, "save", save_together)
    receipt = await add_message_parts(desk, "email", "m3@example.com", "", (
        Attachment("a.pdf", "application/pdf", len(PDF), data=PDF), Attachment("b.png", "image/png", len(PNG), data=PNG)))
    assert receipt.edited and receipt.message_id == first.message_id
    async with desk.sessions() as s:
        files = (await s.execute(select(StoredAttachment).where(StoredAttachment.message_id == first.message_id)
                                 .order_by(StoredAttachment.filename))).scalars().all()
    assert [(f.filename, desk.files.read(f.storage_key)) for f in files] == [("a.pdf", PDF), ("b.png", PNG)]
