"""Each manager reads the digest email in their console language; a recipient who is no operator gets the desk's."""
from __future__ import annotations

import email
from email import policy

import pytest
from sqlalchemy import select

from bot.actions.context import Desk
from bot.actions.preferences import set_console_language
from bot.actions.setup import sync_queues
from bot.console.language import available_languages
from bot.events import EventBus
from bot.feedback.worker import DigestMail
from bot.storage.engine import create_engine, session_factory
from bot.storage.files import AttachmentStore
from bot.storage.migrate import upgrade
from bot.storage.models import Operator
from tests.feedback.conftest import client_writes, feedback_settings, operator
from tests.feedback.test_digest_email import monday_morning, sink, week_before  # noqa: F401 - the SMTP sink fixture

pytestmark = pytest.mark.storage


@pytest.fixture
async def mail_desk(tmp_path, database_url, sink):  # noqa: F811
    settings = feedback_settings(tmp_path, database_url, digest={"email": {
        "enabled": True, "smtp_host": "127.0.0.1", "smtp_port": sink.port, "sender": "digest@desk.example", "send_hour": 7,
        "recipients": [{"email": "greta@example.com", "every": "week", "operator": "greta"},
                       {"email": "board@example.com", "every": "week"}]}})
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    desk = Desk(session_factory(engine), EventBus(), settings,
                AttachmentStore(settings.attachments_dir, settings.attachments.max_bytes, settings.attachments.allowed_types))
    await sync_queues(desk)
    yield desk
    await engine.dispose()


async def test_a_german_manager_gets_the_digest_in_german(mail_desk, sink):  # noqa: F811
    await operator(mail_desk, "greta", role="manager")
    async with mail_desk.sessions() as s:
        greta = (await s.execute(select(Operator.id).where(Operator.username == "greta"))).scalar_one()
    await set_console_language(mail_desk, greta, "de", available_languages())
    anna = await operator(mail_desk, "anna")
    receipt = await client_writes(mail_desk, "Where is my parcel?")
    from bot.actions.complaints import mark_complaint
    await mark_complaint(mail_desk, anna, receipt.ticket_id)

    monday = monday_morning()
    await DigestMail("http://desk.example")(mail_desk, monday)
    last_monday, last_sunday = week_before(monday)

    mails = {rcpt[0]: email.message_from_bytes(raw, policy=policy.default) for rcpt, raw in sink.messages}
    german, english = mails["greta@example.com"], mails["board@example.com"]
    assert german["Subject"] == f"helpline: Bericht, Woche {last_monday} – {last_sunday}"
    assert german["Content-Language"] == "de"
    plain, html = german.get_body(("plain",)).get_content(), german.get_body(("html",)).get_content()
    assert "Tickets eröffnet 1" in plain and "## Beschwerden nach Warteschlange" in plain
    assert '<html lang="de">' in html and "Beschwerden nach Warteschlange" in html
    assert "Complaints by queue" not in plain + html
    assert english["Subject"] == f"helpline: digest, week of {last_monday} – {last_sunday}"
    assert "## Complaints by queue" in english.get_body(("plain",)).get_content()
