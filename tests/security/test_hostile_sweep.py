"""Hostile text through every door (web chat, Telegram, SMTP, API, console forms, survey link) is shown
as text on every page that shows it (console list, ticket page and client card, complaints, follow-ups,
digest page and email, the original mail, the widget's history), and active files are only downloads.

One desk takes all of it, so the pages are checked with every kind of hostile value at once. The
pages are parsed (tests/security/hostile.py): no element, attribute or URL from a payload may exist.
"""
from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

import aiohttp
import aiosmtplib
import pytest
from sqlalchemy import select, update

from bot.actions.operators import create_api_token, create_operator
from bot.actions.surveys import send_due_surveys
from bot.feedback.digest import build_digest
from bot.feedback.periods import days
from bot.feedback.render import email_html
from bot.storage.models import Message, StoredAttachment, Survey, Ticket, utcnow
from tests.channels.telegram.conftest import WAIT, bot_settings, fake_api, start_app  # noqa: F401 (fake_api is a fixture)
from tests.conftest import free_port, make_settings
from tests.console.api_client import ApiClient
from tests.console.conftest import csrf_of
from tests.fakes.telegram_updates import TelegramUser
from tests.security.hostile import IMG, LINK, MARK, PAYLOAD, SCRIPT, SVG, assert_inert

DOMAIN = "desk.example"
QUEUES = ["general", "billing", "delivery", "complaints"]
SVG_FILE = b'<svg xmlns="http://www.w3.org/2000/svg" onload="hl_pwn8()"><script>hl_pwn9()</script></svg>'
HTML_FILE = b"<html><body><script>hl_pwn10()</script></body></html>"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
# What the databases cannot hold is cleaned on the way in; the rest of the payload is kept verbatim.
UNSTORABLE = "\x00\x07\x1b"
LINK_RE = re.compile(r"(http://[^\s]+/survey/[A-Za-z0-9_-]+)")


def hostile_mail() -> bytes:
    mail = EmailMessage()
    mail["From"] = f'"{SVG} {SCRIPT}" <hostile@example.com>'
    mail["To"] = f"support@{DOMAIN}"
    mail["Subject"] = f"{PAYLOAD} [invalid: \udcff]"
    mail["Message-ID"] = "<hostile-1@example.com>"
    mail.set_content(f"Plain: {PAYLOAD}\n")
    mail.add_alternative(f"<p>{IMG}{LINK}<iframe src=javascript:hl_pwn11()></iframe>{SCRIPT}</p>", subtype="html")
    mail.add_attachment(SVG_FILE, maintype="image", subtype="svg+xml", filename=f"{SVG}.svg")
    mail.add_attachment(HTML_FILE, maintype="text", subtype="html", filename=f"{SCRIPT}.html")
    mail.add_attachment(PNG, maintype="image", subtype="png", filename=f"../../{IMG}.png")
    raw = bytes(mail)
    # Invalid UTF-8 in the body, as 8bit mail from a broken client would bring it.
    return raw.replace(b"Plain: ", b"Plain \xff\xfe\xc0: ", 1)


@pytest.fixture
async def hostile_desk(tmp_path, database_url, fake_api):
    """The whole desk: web chat, a Telegram bot on the fake Bot API, the SMTP receiver, surveys by link,
    complaints, canned responses with hostile text, and SVG/HTML accepted as files (so their serving is tested)."""
    smtp_port = free_port()
    active = ["image/png", "image/svg+xml", "text/html", "application/pdf"]
    settings = make_settings(
        tmp_path, database_url, queues=[{"name": q} for q in QUEUES],
        attachments={"allowed_types": active},
        canned_responses=[{"title": f"Canned {SCRIPT}", "language": "en", "text": f"Canned {PAYLOAD}"}],
        feedback={"survey": {"enabled": True, "delay_minutes": 60, "link_channels": ["email*", "webchat*", "telegram*"]},
                  "complaints": {"queue": "complaints"}},
        channels={"telegram": bot_settings(fake_api.url),
                  "email": {"receiver": {"host": "127.0.0.1", "port": smtp_port, "domains": [DOMAIN]},
                            "allowed_types": active}})
    server, runner = await start_app(settings)
    server.smtp_port = smtp_port
    yield server
    await runner.cleanup()


async def tickets_by_channel(desk) -> dict[str, int]:
    async with desk.sessions() as s:
        rows = (await s.execute(select(Ticket.number, Message.channel).join(Message, Message.ticket_id == Ticket.id)
                                .where(Message.direction == "in"))).all()
    return {channel: number for number, channel in rows}


async def page(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as r:
        body = await r.text()
        assert r.status == 200, (url, r.status, body[:300])
        return body


async def test_hostile_input_from_every_door_is_inert_on_every_page(hostile_desk, fake_api):
    server, desk = hostile_desk, hostile_desk.desk
    await create_operator(desk, "olga", f"Olga {SCRIPT}", "password-123", "supervisor", QUEUES, ["en"])
    token = await create_api_token(desk, "olga", f"token {SCRIPT}")

    # 1. The doors: web chat (name, email, text), Telegram (names, text, an SVG document), SMTP (everything).
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{server.url}/chat/ws")
        await ws.send_json({"type": "hello", "token": None, "last_seen": 0, "locale": "en"})
        welcome = json.loads((await ws.receive()).data)
        while json.loads((await ws.receive()).data)["type"] != "synced":
            pass
        await ws.send_json({"type": "message", "id": "h1", "text": PAYLOAD + UNSTORABLE, "name": f"{SVG} {SCRIPT}",
                            "email": '"><svg/onload=hl_pwn7()>@evil.example'})
        while (ack := json.loads((await ws.receive()).data))["type"] != "ack":
            pass
        await ws.close()
    user = TelegramUser(first_name=SVG, last_name=SCRIPT + UNSTORABLE)
    svg_id = fake_api.add_file(SVG_FILE, "documents/file.svg")
    pushed = fake_api.push(user.text(PAYLOAD + UNSTORABLE), user.document(svg_id, len(SVG_FILE), f"{IMG}.svg", "image/svg+xml"))
    await fake_api.wait_until(lambda: any(o is not None and o > pushed[-1] for o in fake_api.offsets), WAIT, "updates confirmed")
    await aiosmtplib.send(hostile_mail(), sender="hostile@example.com", recipients=[f"support@{DOMAIN}"],
                          hostname="127.0.0.1", port=server.smtp_port, start_tls=False, timeout=30)
    numbers = await tickets_by_channel(desk)
    assert set(numbers) == {"webchat", "telegram", "email"}, numbers

    # 2. Operators' doors: API notes and replies, console notes, a complaint with a hostile summary.
    api = ApiClient(server.url, token)
    try:
        for number in numbers.values():
            assert (await api.post(f"/api/v1/tickets/{number}/notes", {"text": f"API note {PAYLOAD}"})).status == 201
            assert (await api.post(f"/api/v1/tickets/{number}/messages", {"text": f"API reply {PAYLOAD}"})).status == 201
        huge = await api.post(f"/api/v1/tickets/{numbers['webchat']}/notes", {"text": "x" * 1_000_000})
        assert huge.status == 413 and huge.body["error"]["code"] == "too_large"
        nul = await api.post(f"/api/v1/tickets/{numbers['webchat']}/notes", {"text": "a\x00b"})
        assert nul.status == 422 and nul.body["error"]["field"] == "text"
        assert (await api.post(f"/api/v1/tickets/{numbers['email']}/resolve")).status == 200
    finally:
        await api.close()

    async with await server.logged_in("olga") as http:
        ticket_page = await page(http, f"{server.url}/console/tickets/{numbers['telegram']}")
        csrf = csrf_of(ticket_page)
        async with http.post(f"{server.url}/console/tickets/{numbers['telegram']}/note",
                             data={"csrf_token": csrf, "text": f"Form note {PAYLOAD}"}) as r:
            assert r.status in (200, 303)
        async with http.post(f"{server.url}/console/tickets/{numbers['telegram']}/complaint",
                             data={"csrf_token": csrf, "summary": f"Summary {PAYLOAD}", "severity": "high"}) as r:
            assert r.status == 200
        async with http.post(f"{server.url}/console/tickets/{numbers['telegram']}/reply",
                             data={"csrf_token": csrf, "text": "y" * 1_000_000}) as r:
            assert r.status in (400, 413)  # the documented refusal of an oversized reply

    # 3. The survey link of the resolved mail ticket gets a hostile comment and a low score.
    await desk.bus.drain()
    async with desk.sessions() as s, s.begin():
        await s.execute(update(Survey).values(due_at=utcnow() - timedelta(seconds=1)))
    await send_due_surveys(desk, server.url)
    async with desk.sessions() as s:
        survey_text = (await s.execute(select(Message.text).join(Survey, Survey.message_id == Message.id))).scalar_one()
    link = LINK_RE.search(survey_text).group(1)
    async with aiohttp.ClientSession() as http:
        async with http.post(link, data={"score": "1", "comment": f"Comment {PAYLOAD}"}) as r:
            assert r.status == 200
        assert_inert(await page(http, link), "survey page")

    # 4. Every page that shows any of it.
    today = datetime.now(timezone.utc).date()
    yesterday = today - timedelta(days=1)
    async with desk.sessions() as s:
        originals = list((await s.execute(select(Message.id).where(Message.channel == "email", Message.direction == "in"))).scalars())
    paths = ["/console", "/console?scope=all&status=all", *(f"/console/tickets/{n}" for n in numbers.values()),
             "/console/complaints", "/console/complaints?status=all", "/console/complaints/C-1001", "/console/follow-ups",
             "/console/follow-ups?status=all", f"/console/digest?from={yesterday}&to={today}", "/console/unanswered", "/console/alerts",
             "/console/operators", *(f"/console/messages/{i}/original" for i in originals)]
    async with await server.logged_in("olga") as http:
        pages = {path: await page(http, server.url + path) for path in paths}
        async with http.get(f"{server.url}/console/digest", params={"period": PAYLOAD}) as r:
            assert r.status == 400
            pages["/console/digest?period=PAYLOAD"] = await r.text()
    for path, body in pages.items():
        assert_inert(body, path)
    shown = "\n".join(pages[f"/console/tickets/{n}"] for n in numbers.values())
    assert html.escape(SCRIPT, quote=False) in shown  # the payload is there, as text
    assert shown.count(MARK + "1") >= 9 and "\x00" not in shown and "\x1b" not in shown
    assert "Summary " in pages["/console/complaints/C-1001"] and MARK in pages["/console/complaints"]
    assert "Comment " in pages["/console/follow-ups?status=all"] or "Comment " in pages[f"/console/tickets/{numbers['email']}"]
    assert "Summary " in pages[f"/console/digest?from={yesterday}&to={today}"]  # the complaint's words, quoted

    # 5. The digest by email renders the same texts inertly.
    digest = await build_digest(desk, days(yesterday, today, timezone.utc), datetime.now(timezone.utc))
    body, _ = email_html(digest, f"Desk {SCRIPT}", server.url)
    assert_inert(body, "digest email")

    # 6. The widget's history gives the text back as data (the widget fills it in as text nodes).
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{server.url}/chat/ws")
        await ws.send_json({"type": "hello", "token": welcome["token"], "last_seen": 0, "locale": "en"})
        history = []
        while (frame := json.loads((await ws.receive()).data))["type"] != "synced":
            history.append(frame)
        await ws.close()
    texts = [f.get("text") for f in history if f["type"] == "message"]
    assert PAYLOAD in texts and f"API reply {PAYLOAD}" in texts


async def test_active_files_are_only_ever_downloads(hostile_desk, fake_api):
    """SVG and HTML files, from mail and Telegram, are served as attachments with a sandboxing CSP."""
    server, desk = hostile_desk, hostile_desk.desk
    await create_operator(desk, "olga", "Olga", "password-123", "supervisor", QUEUES, ["en"])
    await aiosmtplib.send(hostile_mail(), sender="hostile@example.com", recipients=[f"support@{DOMAIN}"],
                          hostname="127.0.0.1", port=server.smtp_port, start_tls=False, timeout=30)
    user = TelegramUser()
    html_id = fake_api.add_file(HTML_FILE, "documents/file.html")
    pushed = fake_api.push(user.document(html_id, len(HTML_FILE), "page.html", "text/html"))
    await fake_api.wait_until(lambda: any(o is not None and o > pushed[-1] for o in fake_api.offsets), WAIT, "update confirmed")
    async with desk.sessions() as s:
        files = list((await s.execute(select(StoredAttachment.id, StoredAttachment.content_type, StoredAttachment.filename))).all())
    assert {"image/svg+xml", "text/html"} <= {f.content_type for f in files}, files
    assert all("/" not in f.filename and not f.filename.startswith(".") for f in files)
    async with await server.logged_in("olga") as http:
        for file_id, content_type, _ in files:
            async with http.get(f"{server.url}/console/attachments/{file_id}") as r:
                assert r.status == 200
                assert r.headers["Content-Type"] == "application/octet-stream", content_type
                assert r.headers["Content-Disposition"].startswith("attachment;")
                assert r.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
                assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_the_scripts_that_show_client_text_never_parse_it_as_html():
    """The widget and console.js put texts in as text nodes; none of the HTML-parsing sinks may appear."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    scripts = [*root.glob("channels/webchat/static/*.js"), *root.glob("bot/console/static/*.js")]
    assert len(scripts) >= 3
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setTimeout\(\s*['\"]")
    for script in scripts:
        found = sinks.findall(script.read_text(encoding="utf-8"))
        assert not found, f"{script.name}: {found}"


async def test_mime_bombs_over_smtp_are_stored_within_the_limits_and_the_receiver_keeps_serving(hostile_desk):
    server, desk = hostile_desk, hostile_desk.desk
    nested = b"".join(b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i) for i in range(500))
    parts = b"".join(b"--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(5000))
    bombs = {
        "<deep@example.com>": nested + b"Content-Type: text/plain\r\n\r\ndeep inside\r\n",
        "<wide@example.com>": b'Content-Type: multipart/mixed; boundary="p"\r\n\r\n' + parts + b"--p--\r\n",
    }
    for message_id, body in bombs.items():
        head = f"From: bomber@example.com\r\nTo: support@{DOMAIN}\r\nSubject: bomb\r\nMessage-ID: {message_id}\r\n".encode()
        await aiosmtplib.send(head + body, sender="bomber@example.com", recipients=[f"support@{DOMAIN}"],
                              hostname="127.0.0.1", port=server.smtp_port, start_tls=False, timeout=30)
    await aiosmtplib.send(f"From: calm@example.com\r\nTo: support@{DOMAIN}\r\nSubject: hello\r\n\r\nJust a question.\r\n",
                          sender="calm@example.com", recipients=[f"support@{DOMAIN}"],
                          hostname="127.0.0.1", port=server.smtp_port, start_tls=False, timeout=30)
    async with desk.sessions() as s:
        stored = dict((await s.execute(select(Message.external_id, Message.text).where(Message.channel == "email"))).all())
    assert "nested too deeply" in stored["deep@example.com"] or "stored as raw text" in stored["deep@example.com"]
    assert "too many parts" in stored["wide@example.com"] or "parts; the rest were left out" in stored["wide@example.com"]
    assert any(text == "Just a question." for text in stored.values())
