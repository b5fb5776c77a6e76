"""The email survey end to end through the real email channel: a client mails the desk's SMTP
receiver, an operator answers and resolves, the survey leaves through the outgoing SMTP path to a
sink; its links (in the text and the HTML part) open the survey page, where a prefetch records
nothing, a confirmed answer is kept and can be changed, a tampered or expired link is refused,
and a low score with a comment opens a follow-up the queue's supervisor sees in the console."""
from __future__ import annotations

import asyncio
import re
from email import message_from_bytes, policy

import aiohttp
import aiosmtplib
import pytest
from aiohttp import web
from sqlalchemy import select, update

from bot.actions.tickets import reply_to_ticket, resolve_ticket
from bot.app import create_app
from bot.events import DeliveryChanged
from bot.storage.models import AuditEvent, Complaint, FollowUp, Survey, Ticket, utcnow
from bot.web import DESK
from tests.channels.email.conftest import DOMAIN, SUPPORT, smtp_sink  # noqa: F401 (fixture)
from tests.channels.email.mails import mail
from tests.feedback.conftest import QUEUES, operator
from tests.conftest import LiveServer, free_port, make_settings

LINK = re.compile(r"http://127\.0\.0\.1:\d+/survey/([A-Za-z0-9_-]+)\?score=(\d)")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def mail_desk(tmp_path, database_url, smtp_sink):  # noqa: F811 (the sink fixture)
    """The whole desk on loopback: the SMTP receiver in, the sink out, surveys at once after resolving."""
    receiver_port, port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(
        tmp_path, database_url, queues=QUEUES,
        channels={"email": {"receiver": {"host": "127.0.0.1", "port": receiver_port, "domains": [DOMAIN]},
                            "smtp": {"host": "127.0.0.1", "port": smtp_sink.port, "security": "none",
                                     "from_address": SUPPORT}}},
        feedback={"survey": {"enabled": True, "channel_delay_minutes": {"email": 0}},
                  "complaints": {"queue": "complaints"}})
    app = create_app(settings, public_url=url, auto_migrate=True)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    server = LiveServer(app, url, app[DESK])
    server.receiver_port = receiver_port
    yield server
    await runner.cleanup()


class Sent:
    """The mails the desk delivered, awaited through its delivery events (a guard timeout, not a sleep)."""

    def __init__(self, desk, sink):
        self.sink = sink
        self.changed = asyncio.Event()
        desk.bus.subscribe(DeliveryChanged, self._on_delivery)

    async def _on_delivery(self, event: DeliveryChanged) -> None:
        self.changed.set()

    async def count(self, n: int) -> list:
        async def wait():
            while len(self.sink.received) < n:
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(wait(), 30)
        return [message_from_bytes(raw, policy=policy.default) for _, _, raw in self.sink.received]


def _parts(message) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    return (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())


async def _score(desk, ticket_id: int):
    async with desk.sessions() as s:
        survey = (await s.execute(select(Survey).where(Survey.ticket_id == ticket_id))).scalar_one()
    return survey.score, survey.comment, survey.status


async def test_an_email_client_answers_the_survey_from_the_links_in_the_mail(mail_desk, smtp_sink):  # noqa: F811
    desk = mail_desk.desk
    sent = Sent(desk, smtp_sink)
    anna = await operator(desk, "anna", queues=("general",))
    await operator(desk, "olga", role="supervisor", queues=("general",))

    # 1. The client writes to the desk's SMTP receiver; an operator answers and resolves.
    await aiosmtplib.send(mail("jane@example.com", "Parcel NW-77 not here", "q.1@example.com", "Where is my parcel?"),
                          sender="jane@example.com", recipients=[SUPPORT], hostname="127.0.0.1",
                          port=mail_desk.receiver_port, start_tls=False, timeout=30)
    async with desk.sessions() as s:
        ticket = (await s.execute(select(Ticket))).scalar_one()
    assert ticket.channel == "email"
    await reply_to_ticket(desk, anna, ticket.id, "Jane, it arrives tomorrow.")
    await resolve_ticket(desk, anna, ticket.id)

    # 2. The survey leaves through SMTP, threaded, with one link per score in both parts.
    reply, survey_mail = await sent.count(2)
    assert survey_mail["To"] == "jane@example.com" and survey_mail["Auto-Submitted"] == "auto-replied"
    assert survey_mail["Subject"] == f"Re: Parcel NW-77 not here [#{ticket.number}]"
    assert survey_mail["In-Reply-To"] == "<q.1@example.com>"
    text, html = _parts(survey_mail)
    text_links, html_links = LINK.findall(text), list(dict.fromkeys(LINK.findall(html)))  # href and shown text
    assert [score for _, score in text_links] == ["1", "2", "3", "4", "5"] and text_links == html_links
    token = text_links[0][0]
    assert {t for t, _ in text_links} == {token}
    link = f"{mail_desk.url}/survey/{token}"
    assert f'href="{link}?score=2"' in html

    async with aiohttp.ClientSession() as http:
        # 3. A mail scanner fetches every link: the page asks, nothing is recorded.
        for score in "12345":
            async with http.get(f"{link}?score={score}") as r:
                page = await r.text()
                assert r.status == 200 and f'value="{score}" checked' in page and 'method="post"' in page
        async with http.head(link) as r:
            assert r.status == 200
        assert await _score(desk, ticket.id) == (None, "", "sent")

        # 4. The client confirms a low score with a comment: kept, a follow-up and a complaint open.
        async with http.post(link, data={"score": "2", "comment": "The courier was <b>rude</b>"}) as r:
            assert r.status == 200 and "Your answer is saved" in await r.text()
        assert await _score(desk, ticket.id) == (2, "The courier was <b>rude</b>", "answered")

        # 5. ...and changes it while the link is valid; the change is audited.
        async with http.post(link, data={"score": "4", "comment": "The courier was <b>rude</b>"}) as r:
            assert r.status == 200
        assert (await _score(desk, ticket.id))[0] == 4

        # 6. A tampered token is unknown, on GET and POST alike; nothing changes.
        tampered = f"{mail_desk.url}/survey/{token[:-1]}{'A' if token[-1] != 'A' else 'B'}"
        async with http.get(tampered) as r:
            assert r.status == 404 and "not valid" in await r.text()
        async with http.post(tampered, data={"score": "1"}) as r:
            assert r.status == 404
        async with http.get(f"{mail_desk.url}/survey/{token}{token}x") as r:  # too long for a token
            assert r.status == 404

        # 7. Past the expiry (moved by the clock, stored on the survey) the link is refused.
        async with desk.sessions() as s, s.begin():
            await s.execute(update(Survey).where(Survey.ticket_id == ticket.id).values(expires_at=utcnow()))
        async with http.get(link) as r:
            assert r.status == 410 and "expired" in await r.text()
        async with http.post(link, data={"score": "1", "comment": ""}) as r:
            assert r.status == 410
    assert (await _score(desk, ticket.id))[:2] == (4, "The courier was <b>rude</b>")
    async with desk.sessions() as s:
        changes = list((await s.execute(select(AuditEvent.data).where(AuditEvent.kind == "survey_changed"))).scalars())
        follow_up = (await s.execute(select(FollowUp))).scalar_one()
        complaint = (await s.execute(select(Complaint))).scalar_one()
    assert [c["previous_score"] for c in changes] == [2]
    assert (follow_up.ticket_id, follow_up.reason, follow_up.status) == (ticket.id, "complaint_words+low_score", "open")
    assert (complaint.source, complaint.ticket_id) == ("survey", ticket.id)

    # 8. The complaint's acknowledgement reached the client by email too, with its reference.
    acknowledgement = (await sent.count(3))[2]
    assert complaint.reference in _parts(acknowledgement)[0]

    # 9. The queue's supervisor sees the follow-up in the console, the comment escaped.
    async with await mail_desk.logged_in("olga") as http:
        async with http.get(f"{mail_desk.url}/console/follow-ups") as r:
            page = await r.text()
    assert f"#{ticket.number}" in page and "The courier was &lt;b&gt;rude&lt;/b&gt;" in page


def test_links_in_the_html_part_are_escaped_and_only_web_addresses():
    from channels.email.compose import linkify

    line = 'Score: https://desk.test/survey/abc?score=1&x=<2>. Or <b>javascript:alert(1)</b> "http://a.test/q".'
    assert str(linkify(line)) == (
        'Score: <a href="https://desk.test/survey/abc?score=1&amp;x=">https://desk.test/survey/abc?score=1&amp;x=</a>'
        '&lt;2&gt;. Or &lt;b&gt;javascript:alert(1)&lt;/b&gt; &#34;<a href="http://a.test/q">http://a.test/q</a>&#34;.')
