"""The digest by email, delivered to an SMTP sink (aiosmtpd on loopback): once per period, charts as inline PNGs."""
from __future__ import annotations

import email
from datetime import date, datetime, time, timedelta, timezone
from email import policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bot.actions.context import Desk
from bot.actions.setup import sync_queues
from bot.events import EventBus
from bot.feedback.worker import DigestMail
from bot.storage.engine import create_engine, session_factory
from bot.storage.files import AttachmentStore
from bot.storage.migrate import upgrade
from bot.storage.models import DigestDelivery
from tests.conftest import free_port
from tests.feedback.conftest import client_writes, feedback_settings, operator



def monday_morning() -> datetime:
    """The next Monday, 08:00 (after send_hour 7, a UTC desk): "last week" is this week, where data just stored is.

    Asked when a test runs, not when the module is imported: a suite collected on a Sunday may run this on Monday."""
    today = datetime.now(timezone.utc).date()
    return datetime.combine(today + timedelta(days=7 - today.weekday()), time(8), tzinfo=timezone.utc)


def week_before(monday: datetime) -> tuple[date, date]:
    return monday.date() - timedelta(days=7), monday.date() - timedelta(days=1)


class Sink:
    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []
        self.refuse = False

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "451 try again later"
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def sink():
    handler, port = Sink(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


@pytest.fixture
async def mail_desk(tmp_path, database_url, sink):
    settings = feedback_settings(tmp_path, database_url, digest={"email": {
        "enabled": True, "smtp_host": "127.0.0.1", "smtp_port": sink.port, "sender": "digest@desk.example", "send_hour": 7,
        "recipients": [{"email": "olga@example.com", "every": "week"}, {"email": "ceo@example.com", "every": "day"}]}})
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    desk = Desk(session_factory(engine), EventBus(), settings,
                AttachmentStore(settings.attachments_dir, settings.attachments.max_bytes, settings.attachments.allowed_types))
    await sync_queues(desk)
    yield desk
    await engine.dispose()


async def test_each_manager_gets_the_digest_once_per_period_with_inline_charts(mail_desk, sink):
    anna = await operator(mail_desk, "anna")
    receipt = await client_writes(mail_desk, "Where is my parcel?")
    from bot.actions.complaints import mark_complaint
    await mark_complaint(mail_desk, anna, receipt.ticket_id)
    monday = monday_morning()
    run = DigestMail("http://desk.example")
    await run(mail_desk, monday.replace(hour=6))  # before the sending hour: nothing
    assert sink.messages == []
    await run(mail_desk, monday)
    await run(mail_desk, monday.replace(hour=9))  # the same periods again: nothing more
    assert sorted(rcpt for rcpt, _ in sink.messages) == [["ceo@example.com"], ["olga@example.com"]]
    weekly = next(email.message_from_bytes(raw, policy=policy.default) for rcpt, raw in sink.messages if rcpt == ["olga@example.com"])
    assert weekly["Subject"] == "helpline: digest, week of {} – {}".format(*week_before(monday))
    assert weekly["Auto-Submitted"] == "auto-generated"
    html = weekly.get_body(("html",))
    images = [part for part in weekly.walk() if part.get_content_type() == "image/png"]
    assert images and all(part["Content-ID"].strip("<>") in html.get_content() for part in images)
    assert all(part.get_content().startswith(b"\x89PNG\r\n\x1a\n") for part in images)
    assert "<script" not in html.get_content() and "<svg" not in html.get_content()
    assert weekly.get_body(("plain",)).get_content().startswith("# ")
    async with mail_desk.sessions() as s:
        assert set((await s.execute(select(DigestDelivery.status))).scalars()) == {"sent"}


async def test_a_refused_send_is_retried_and_the_reason_kept(mail_desk, sink):
    sink.refuse = True
    monday = monday_morning()
    run = DigestMail("http://desk.example")
    await run(mail_desk, monday)
    async with mail_desk.sessions() as s:
        rows = list((await s.execute(select(DigestDelivery))).scalars())
    assert {r.status for r in rows} == {"pending"} and all("451" in r.last_error for r in rows)
    sink.refuse = False
    await run(mail_desk, monday.replace(hour=10))  # after the back-off
    assert len(sink.messages) == 2
