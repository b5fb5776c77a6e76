"""Retention: old resolved tickets lose their message texts and attachments; tickets and statistics stay."""
from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from bot.actions.inbox import receive_message
from bot.actions.operators import create_operator, log_in
from bot.actions.retention import apply_retention
from bot.actions.tickets import resolve_ticket
from bot.config import RetentionSettings
from bot.domain import Attachment, InboundMessage
from bot.errors import ConfigError
from bot.storage.models import AuditEvent, Message, StoredAttachment, Ticket
from tests.conftest import make_settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\1" * 200
OTHER_PNG = b"\x89PNG\r\n\x1a\n" + b"\2" * 200


def with_limits(desk, messages_days: int, attachments_days: int):
    desk.settings = desk.settings.model_copy(update={"retention": RetentionSettings(
        messages_days=messages_days, attachments_days=attachments_days)})
    return desk


async def writes(desk, user: str, text: str, data: bytes | None = None) -> int:
    attachments = (Attachment("photo.png", "image/png", len(data), data=data),) if data else ()
    receipt = await receive_message(desk, InboundMessage(
        channel="webchat", user_id=user, chat_id=user, message_id=f"{user}:{text}", text=text,
        sent_at=datetime.now(timezone.utc), attachments=attachments))
    return receipt.ticket_id


async def texts(desk, ticket_id: int) -> list[str]:
    async with desk.sessions() as s:
        return list((await s.execute(select(Message.text).where(Message.ticket_id == ticket_id).order_by(Message.id))).scalars())


async def attachment_keys(desk, ticket_id: int) -> list[str]:
    async with desk.sessions() as s:
        return list((await s.execute(select(StoredAttachment.storage_key).join(Message).where(
            Message.ticket_id == ticket_id))).scalars())


@pytest.fixture
async def scene(desk):
    """An old resolved ticket with a photo, an open one sharing the photo's content, and a photo alone."""
    await create_operator(desk, "root", "Root", "password-123", "admin", [], ["en"])
    _, admin = await log_in(desk, "root", "password-123")
    old = await writes(desk, "v1", "my address is Elm street 5", PNG)
    await writes(desk, "v1", "and my phone is 555", OTHER_PNG)
    await resolve_ticket(desk, admin, old)
    open_ticket = await writes(desk, "v2", "still talking", PNG)
    key = (await attachment_keys(desk, old))[0]
    other_key = (await attachment_keys(desk, old))[1]
    return desk, old, open_ticket, key, other_key


async def test_attachments_go_first_then_texts_each_after_its_own_limit(scene):
    desk, old, open_ticket, key, other_key = scene
    with_limits(desk, messages_days=30, attachments_days=7)
    report = await apply_retention(desk, now=datetime.now(timezone.utc) + timedelta(days=10))
    assert report.as_dict() == {"messages": 0, "attachments": 2, "notes_and_feedback": 0, "files_removed": 1,
                                "tickets": 1}
    assert await attachment_keys(desk, old) == []
    assert await texts(desk, old) == ["my address is Elm street 5", "and my phone is 555"]
    # The content the open ticket still shows stays on disk; the other photo is gone.
    assert desk.files.path(key).exists() and not desk.files.path(other_key).exists()
    assert await attachment_keys(desk, open_ticket) == [key]

    report = await apply_retention(desk, now=datetime.now(timezone.utc) + timedelta(days=31))
    assert (report.messages, report.attachments) == (2, 0)
    assert await texts(desk, old) == ["[erased]", "[erased]"]
    assert await texts(desk, open_ticket) == ["still talking"]
    async with desk.sessions() as s:
        ticket = await s.get(Ticket, old)
        assert ticket.status == "resolved" and ticket.number and ticket.resolved_at is not None
        assert (await s.execute(select(func.count()).select_from(Ticket))).scalar_one() == 2
        audits = list((await s.execute(select(AuditEvent).where(AuditEvent.kind == "retention_applied")
                                       .order_by(AuditEvent.id))).scalars())
    assert [(a.data["attachments"], a.data["messages"], a.data["by"]) for a in audits] == [(2, 0, "desk"), (0, 2, "desk")]


async def test_a_dry_run_counts_and_changes_nothing_and_a_second_run_finds_nothing(scene):
    desk, old, _, key, other_key = scene
    with_limits(desk, messages_days=30, attachments_days=30)
    later = datetime.now(timezone.utc) + timedelta(days=31)
    dry = await apply_retention(desk, dry_run=True, now=later)
    assert (dry.messages, dry.attachments, dry.files_removed) == (2, 2, 0)
    assert await texts(desk, old) == ["my address is Elm street 5", "and my phone is 555"]
    assert len(await attachment_keys(desk, old)) == 2 and desk.files.path(other_key).exists()
    done = await apply_retention(desk, now=later, by="cli:root")
    assert (done.messages, done.attachments, done.files_removed) == (2, 2, 1)
    again = await apply_retention(desk, now=later)
    assert again.as_dict() == {"messages": 0, "attachments": 0, "notes_and_feedback": 0, "files_removed": 0,
                                "tickets": 0}
    async with desk.sessions() as s:
        kinds = list((await s.execute(select(AuditEvent.data).where(AuditEvent.kind == "retention_applied"))).scalars())
    assert [k["by"] for k in kinds] == ["cli:root"]


async def test_a_recently_resolved_or_reopened_ticket_keeps_everything(scene):
    desk, old, open_ticket, _, _ = scene
    with_limits(desk, messages_days=30, attachments_days=30)
    report = await apply_retention(desk, now=datetime.now(timezone.utc) + timedelta(days=29))
    assert report.as_dict() == {"messages": 0, "attachments": 0, "notes_and_feedback": 0, "files_removed": 0,
                                "tickets": 0}
    await writes(desk, "v1", "one more thing")  # reopens the resolved ticket
    async with desk.sessions() as s:
        assert (await s.get(Ticket, old)).status != "resolved"
    report = await apply_retention(desk, now=datetime.now(timezone.utc) + timedelta(days=400))
    assert report.messages == 0 and len(await attachment_keys(desk, old)) == 2


async def test_zero_keeps_forever(scene):
    desk, old, _, _, _ = scene
    with_limits(desk, messages_days=0, attachments_days=0)
    report = await apply_retention(desk, now=datetime.now(timezone.utc) + timedelta(days=10_000))
    assert (report.messages, report.attachments) == (0, 0)
    assert len(await texts(desk, old)) == 2 and len(await attachment_keys(desk, old)) == 2


@pytest.mark.parametrize("retention, expected", [
    ({"messages_days": -1}, "retention.messages_days"),
    ({"attachments_days": 1.5}, "retention.attachments_days"),
    ({"messages_days": "a month"}, "retention.messages_days"),
    ({"message_days": 30}, "retention.message_days"),
    ({"every_hours": 0}, "retention.every_hours"),
])
def test_bad_retention_settings_name_the_key(tmp_path, retention, expected):
    with pytest.raises(ConfigError) as caught:
        make_settings(tmp_path, "sqlite+aiosqlite:///unused.db", retention=retention)
    assert expected in str(caught.value)


def test_cli_run_shows_progress_and_a_summary(tmp_path, capsys):
    from bot.cli import _with_desk, main
    from bot.config import load_settings

    config = tmp_path / "helpline.toml"
    base = '[desk]\ndata_dir = "data"\n[web]\nsecret_key = "retention-cli-secret-0123456789abcdef"\n[[queues]]\nname = "general"\n'
    config.write_text(base)
    assert main(["retention", "run", "--config", str(config)]) == 2
    assert "no retention limit is set" in capsys.readouterr().err

    async def old_ticket(desk):
        await create_operator(desk, "root", "Root", "password-123", "admin", [], ["en"])
        _, admin = await log_in(desk, "root", "password-123")
        ticket = await writes(desk, "v1", "private words", PNG)
        await resolve_ticket(desk, admin, ticket)
        async with desk.sessions() as s:  # resolved three days ago: only the clock moves
            row = await s.get(Ticket, ticket)
            row.resolved_at = datetime.now(timezone.utc) - timedelta(days=3)
            await s.commit()
        for key in await attachment_keys(desk, ticket):  # and the photo was stored before that
            stamp = (datetime.now(timezone.utc) - timedelta(days=3)).timestamp()
            os.utime(desk.files.path(key), (stamp, stamp))

    asyncio.run(_with_desk(load_settings(config), old_ticket))
    config.write_text(base + "[retention]\nmessages_days = 2\nattachments_days = 1\n")
    assert main(["retention", "run", "--dry-run", "--config", str(config)]) == 0
    out = capsys.readouterr()
    assert "dry run: 1 message texts and 1 attachments would be removed; nothing changed" in out.out
    assert main(["retention", "run", "--config", str(config)]) == 0
    out = capsys.readouterr()
    assert "messages: 1 of 1" in out.err and "attachments: 1 of 1" in out.err
    assert "retention applied: 1 message texts erased, 1 attachments and 1 stored files removed on 1 tickets" in out.out


async def test_the_desks_job_applies_retention_and_carries_on_after_a_failure(desk, monkeypatch):
    from bot import retention_worker

    with_limits(desk, messages_days=1, attachments_days=0)
    passes: list[str] = []
    second = asyncio.Event()

    async def counted(d, **kwargs):
        passes.append(kwargs["by"])
        if len(passes) == 1:
            raise RuntimeError("the database went away")
        second.set()

    monkeypatch.setattr(retention_worker, "apply_retention", counted)
    desk.settings = desk.settings.model_copy(update={"retention": desk.settings.retention.model_copy(
        update={"every_hours": 1e-6})})
    job = asyncio.create_task(retention_worker.retention_loop(desk, first_delay=0))
    try:
        await asyncio.wait_for(second.wait(), 10)
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
    assert passes[:2] == ["desk", "desk"]


def test_the_job_is_off_until_a_limit_is_set(tmp_path):
    from bot.app import create_app

    off = create_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/a.db"), auto_migrate=True)
    on = create_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/b.db", retention={"messages_days": 90}),
                    auto_migrate=True)
    assert len(on.on_startup) + len(on.cleanup_ctx) == len(off.on_startup) + len(off.cleanup_ctx) + 1
