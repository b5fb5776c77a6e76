"""Stored files are shared by content, so removing one races with an identical upload: the upload finds the
file, its row is not committed yet, and a removal that saw no row must not delete the file under it.

Each scenario pauses a real receive between storing its file and committing its row, runs the erasure or
retention there, then lets the receive commit: the new row's file must still be there.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from bot.actions import inbox
from bot.actions.inbox import receive_message
from bot.actions.operators import create_operator, log_in
from bot.actions.privacy import erase_client
from bot.actions.retention import apply_retention
from bot.actions.stored_files import sweep_files
from bot.actions.tickets import resolve_ticket
from bot.config import RetentionSettings
from bot.domain import Attachment, InboundMessage
from bot.storage.models import StoredAttachment, Ticket

PHOTO = b"\x89PNG\r\n\x1a\n" + b"\7" * 300
DAY = 24 * 3600


async def writes(desk, user: str, text: str):
    return await receive_message(desk, InboundMessage(
        channel="webchat", user_id=user, chat_id=user, message_id=f"{user}:{text}", text=text,
        sent_at=datetime.now(timezone.utc), attachments=(Attachment("photo.png", "image/png", len(PHOTO), data=PHOTO),)))


def age(desk, key: str, seconds: float) -> None:
    """The file was last stored `seconds` ago (only the file's clock moves)."""
    stamp = datetime.now(timezone.utc).timestamp() - seconds
    os.utime(desk.files.path(key), (stamp, stamp))


async def key_of(desk, ticket_id: int) -> str:
    async with desk.sessions() as s:
        return (await s.execute(select(StoredAttachment.storage_key).join(inbox.Message).where(
            inbox.Message.ticket_id == ticket_id))).scalar_one()


def pause_before_commit(monkeypatch, step):
    """Run `step()` in every receive after its files are stored and before its transaction commits."""
    real = inbox._group_commit

    class Paused:
        def __init__(self, group):
            self.group = group

        async def submit(self, job):
            await step()
            return await self.group.submit(job)

    monkeypatch.setattr(inbox, "_group_commit", lambda desk: Paused(real(desk)))


def later(desk) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=desk.files.grace_seconds + 1)


async def test_an_upload_racing_an_erasure_of_the_same_content_keeps_its_file(desk, monkeypatch):
    first = await writes(desk, "ann", "my photo")
    async with desk.sessions() as s:
        ann = (await s.get(Ticket, first.ticket_id)).client_id
    key = await key_of(desk, first.ticket_id)
    age(desk, key, DAY)  # Ann sent it yesterday
    erased: list[dict] = []

    async def erase():
        erased.append(await erase_client(desk, ann, "test:dpo"))

    pause_before_commit(monkeypatch, erase)
    second = await writes(desk, "bob", "the same photo")
    monkeypatch.undo()
    assert erased and erased[0]["attachments"] == 1 and erased[0]["files_removed"] == 0
    assert await key_of(desk, second.ticket_id) == key
    assert desk.files.read(key) == PHOTO  # Bob's row points at a file that is there
    assert desk.files.pending() == [key]
    swept = await sweep_files(desk, later(desk))  # Bob's row names it now: kept, no longer pending
    assert swept.removed == 0 and desk.files.read(key) == PHOTO and desk.files.pending() == []


async def test_an_upload_racing_retention_of_the_same_content_keeps_its_file(desk, monkeypatch):
    await create_operator(desk, "root", "Root", "password-123", "admin", [], ["en"])
    _, admin = await log_in(desk, "root", "password-123")
    old = await writes(desk, "ann", "my photo")
    await resolve_ticket(desk, admin, old.ticket_id)
    async with desk.sessions() as s:  # resolved ten days ago, the photo stored before that
        await s.execute(update(Ticket).where(Ticket.id == old.ticket_id).values(
            resolved_at=datetime.now(timezone.utc) - timedelta(days=10)))
        await s.commit()
    key = await key_of(desk, old.ticket_id)
    age(desk, key, 11 * DAY)
    desk.settings = desk.settings.model_copy(update={"retention": RetentionSettings(attachments_days=7)})
    reports = []

    async def retention():
        reports.append(await apply_retention(desk))

    pause_before_commit(monkeypatch, retention)
    new = await writes(desk, "bob", "the same photo")
    monkeypatch.undo()
    assert reports[0].attachments == 1 and (reports[0].files_removed, reports[0].files_deferred) == (0, 1)
    assert await key_of(desk, new.ticket_id) == key and desk.files.read(key) == PHOTO


async def test_a_file_whose_upload_never_committed_is_swept_after_the_grace_period(desk, monkeypatch):
    first = await writes(desk, "ann", "my photo")
    async with desk.sessions() as s:
        ann = (await s.get(Ticket, first.ticket_id)).client_id
    key = await key_of(desk, first.ticket_id)
    age(desk, key, DAY)

    async def erase_then_fail():
        await erase_client(desk, ann, "test:dpo")
        raise RuntimeError("the receive failed before its commit")

    pause_before_commit(monkeypatch, erase_then_fail)
    with pytest.raises(RuntimeError):
        await writes(desk, "bob", "the same photo")
    monkeypatch.undo()
    assert desk.files.path(key).exists() and desk.files.pending() == [key]
    assert (await sweep_files(desk)).removed == 0  # still within the grace period
    assert (await sweep_files(desk, later(desk))).removed == 1
    assert not desk.files.path(key).exists() and desk.files.pending() == []


async def test_a_file_stored_long_ago_and_named_by_no_row_goes_at_once(desk):
    first = await writes(desk, "ann", "my photo")
    async with desk.sessions() as s:
        ann = (await s.get(Ticket, first.ticket_id)).client_id
    key = await key_of(desk, first.ticket_id)
    age(desk, key, DAY)
    assert (await erase_client(desk, ann, "test:dpo"))["files_removed"] == 1
    assert not desk.files.path(key).exists() and desk.files.pending() == []
    # The same content arriving afterwards is simply stored again.
    again = await writes(desk, "bob", "the same photo")
    assert desk.files.read(await key_of(desk, again.ticket_id)) == PHOTO
