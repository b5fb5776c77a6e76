"""Ticket numbers and ids cannot be probed: a ticket (or file, or message) one may not see answers
exactly like one that does not exist, on every route that takes one; look-ups by a channel's own ids
(message ids, email references, ticket numbers in subjects) stay inside that channel.

The outsider is an operator of another queue (with a console session and an API token), a
web-chat visitor who is not the ticket's client, and someone with no credentials at all.
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone

import aiohttp
import pytest

from bot.actions.inbox import receive_message
from bot.actions.operators import create_api_token, log_in, session_viewer
from bot.domain import InboundMessage
from tests.channels.webchat.conftest import chat  # noqa: F401 (fixture)
from tests.channels.webchat.test_uploads import form, png, upload

MISSING = 987654321


async def answer(session: aiohttp.ClientSession, method: str, url: str, **kw) -> tuple[int, str, str]:
    """(status, body, where a redirect goes) with the asked-for number and id blanked out of the body."""
    async with session.request(method, url, allow_redirects=False, **kw) as r:
        return r.status, await r.text(), r.headers.get("Location", "")


def blanked(result: tuple[int, str, str], *values: object) -> tuple[int, str, str]:
    """The body with the caller's own input (the number they asked for) replaced: echoing it back leaks nothing."""
    status, body, location = result
    for value in values:
        body, location = body.replace(str(value), "N"), location.replace(str(value), "N")
    return status, body, location


@pytest.fixture
async def scene(chat):  # noqa: F811
    """A visitor's ticket in `general` with a file, an email with its original; an operator of `billing`."""
    server = chat.server
    owner = await chat.visitor()
    status, ack = await upload(chat, owner.token, form("f1", png(), "receipt.png", "image/png", "my receipt"))
    assert status == 200, ack
    attachment = (await owner.message())["attachments"][0]["id"]
    await owner.ws.close()
    email = await receive_message(server.desk, InboundMessage(
        channel="mailbox", user_id="ann@example.com", chat_id="ann@example.com", message_id="<m1@example.com>",
        text="hello", sent_at=datetime.now(timezone.utc), raw=b"From: ann@example.com\r\n\r\nhello\r\n", html="<p>hello</p>"))
    await server.add_operator("olga", queues=("billing",))
    cookie, _ = await log_in(server.desk, "olga", "password-123")
    _, csrf = await session_viewer(server.desk, cookie)
    token = await create_api_token(server.desk, "olga")
    stranger = await chat.visitor()
    await stranger.ws.close()
    return {"server": server, "ticket": ack["ticket"], "attachment": attachment, "message": email.message_id,
            "cookie": cookie, "csrf": csrf, "token": token, "stranger": stranger.token}


CONSOLE_GETS = ["/console/tickets/{ticket}", "/console/attachments/{attachment}", "/console/messages/{message}/original",
                "/console/messages/{message}/original.eml"]
CONSOLE_POSTS = [("reply", {"text": "hi"}), ("note", {"text": "n"}), ("take", {}), ("resolve", {}), ("reopen", {}),
                 ("transfer", {"queue": "billing"}), ("accept", {}), ("reject", {}), ("wrong-queue", {"queue": "billing"}),
                 ("complaint", {})]
API_CALLS = [("GET", "", None), ("GET", "/messages", None), ("GET", "/notes", None), ("POST", "/messages", {"text": "hi"}),
             ("POST", "/notes", {"text": "n"}), ("POST", "/resolve", {}), ("POST", "/transfer", {"queue": "billing"})]


def ids(scene: dict, missing: bool) -> dict:
    return {k: MISSING if missing else scene[k] for k in ("ticket", "attachment", "message")}


async def test_console_pages_and_forms_answer_a_hidden_ticket_like_a_missing_one(scene):
    server = scene["server"]
    headers = {"Cookie": f"hl_session={scene['cookie']}"}
    async with aiohttp.ClientSession() as s:
        for path in CONSOLE_GETS:
            hidden = await answer(s, "GET", server.url + path.format(**ids(scene, False)), headers=headers)
            missing = await answer(s, "GET", server.url + path.format(**ids(scene, True)), headers=headers)
            assert hidden[0] == 404 and hidden == missing, path
        for action, data in CONSOLE_POSTS:
            results = [await answer(s, "POST", f"{server.url}/console/tickets/{number}/{action}", headers=headers,
                                    data={"csrf_token": scene["csrf"], **data}) for number in (scene["ticket"], MISSING)]
            assert results[0][0] == 404 and results[0] == results[1], action
        anonymous = [await answer(s, "GET", server.url + CONSOLE_GETS[0].format(**ids(scene, m))) for m in (False, True)]
        assert blanked(anonymous[0], scene["ticket"]) == blanked(anonymous[1], MISSING)
        assert anonymous[0][0] == 303
    # Nothing the outsider tried changed the ticket.
    async with server.desk.sessions() as db:
        from bot.storage import queries
        row = await queries.ticket_row_by_number(db, scene["ticket"])
    assert row.assignee_id is None and row.status != "resolved"


async def test_api_answers_a_hidden_ticket_like_a_missing_one(scene):
    server, number = scene["server"], scene["ticket"]
    async with aiohttp.ClientSession() as s:
        for method, tail, body in API_CALLS:
            results = []
            for asked in (number, MISSING):
                result = await answer(s, method, f"{server.url}/api/v1/tickets/{asked}{tail}", json=body,
                                      headers={"Authorization": f"Bearer {scene['token']}"})
                results.append(blanked(result, asked))
            assert results[0][0] == 404 and results[0] == results[1], (method, tail)
            anonymous = [blanked(await answer(s, method, f"{server.url}/api/v1/tickets/{asked}{tail}", json=body), asked)
                         for asked in (number, MISSING)]
            assert anonymous[0][0] == 401 and anonymous[0] == anonymous[1]


async def test_another_visitor_cannot_tell_a_file_exists(scene):
    server = scene["server"]
    async with aiohttp.ClientSession() as s:
        results = [await answer(s, "GET", f"{server.url}/chat/attachments/{file_id}",
                                headers={"X-Visitor-Token": scene["stranger"]})
                   for file_id in (scene["attachment"], MISSING)]
    assert results[0][0] == 404 and results[0] == results[1]


async def test_survey_links_cannot_be_guessed(scene):
    """A survey page is reached only by its link's random token; any other token is the same 404."""
    server = scene["server"]
    async with aiohttp.ClientSession() as s:
        results = [await answer(s, method, f"{server.url}/survey/{token}", data={"score": "5"} if method == "POST" else None)
                   for method in ("GET", "POST") for token in (secrets.token_urlsafe(24), "1", str(scene["ticket"]))]
    assert {r[0] for r in results} == {404}
    assert len({r[1] for r in results[:3]}) == 1 and len({r[1] for r in results[3:]}) == 1


async def test_the_console_socket_refuses_to_watch_a_hidden_ticket_like_a_missing_one(scene):
    server = scene["server"]
    async with aiohttp.ClientSession(headers={"Cookie": f"hl_session={scene['cookie']}"}) as s:
        async with s.ws_connect(f"{server.url}/console/ws", origin=server.url) as ws:
            answers = []
            for number in (scene["ticket"], MISSING):
                await ws.send_json({"type": "watch", "ticket": number, "after": 1})
                while (frame := await ws.receive_json(timeout=10))["type"] not in ("error", "watching"):
                    continue
                answers.append({**frame, "ticket": "N"})
    assert answers[0] == answers[1] == {"type": "error", "ticket": "N", "error": "no such ticket"}


async def test_public_ids_are_long_random_and_unique(scene):
    """The ticket's public id (kept for links and outbound message ids) is not derived from its number."""
    server = scene["server"]
    async with server.desk.sessions() as db:
        from bot.storage.models import Ticket
        from sqlalchemy import select
        public_ids = list((await db.execute(select(Ticket.public_id))).scalars())
    assert all(len(p) >= 24 and re.fullmatch(r"[A-Za-z0-9_-]+", p) for p in public_ids)
    assert len(set(public_ids)) == len(public_ids)


def message(channel: str, user: str, message_id: str, text: str, **kw) -> InboundMessage:
    return InboundMessage(channel=channel, user_id=user, chat_id=user, message_id=message_id, text=text,
                          sent_at=datetime.now(timezone.utc), **kw)


async def test_the_same_message_id_on_two_channels_is_two_messages(desk):
    first = await receive_message(desk, message("mailbox", "ann@example.com", "<same@example.com>", "from mail"))
    second = await receive_message(desk, message("mailbox-2", "ann@example.com", "<same@example.com>", "other box"))
    assert not second.duplicate and second.ticket_id != first.ticket_id
    again = await receive_message(desk, message("mailbox", "ann@example.com", "<same@example.com>", "from mail"))
    assert again.duplicate and again.ticket_id == first.ticket_id


async def test_references_and_ticket_numbers_do_not_cross_channels(desk):
    """The same sender address on another mailbox is another identity: naming the first mailbox's
    message or ticket number from there opens a ticket of its own and joins nothing."""
    first = await receive_message(desk, message("mailbox", "ann@example.com", "<a1@example.com>", "first"))
    by_reference = await receive_message(desk, message("mailbox-2", "ann@example.com", "<b1@example.com>", "re: first",
                                                       references=("<a1@example.com>",), explicit_threads=True))
    by_number = await receive_message(desk, message("mailbox-2", "ann@example.com", "<b2@example.com>", "about it",
                                                    ticket_number=first.ticket_number, explicit_threads=True))
    assert first.ticket_id not in (by_reference.ticket_id, by_number.ticket_id)
    same_channel = await receive_message(desk, message("mailbox", "ann@example.com", "<a2@example.com>", "re: first",
                                                       references=("<a1@example.com>",), explicit_threads=True))
    assert same_channel.ticket_id == first.ticket_id


async def test_another_sender_naming_a_ticket_number_does_not_join_it(desk):
    first = await receive_message(desk, message("mailbox", "ann@example.com", "<a1@example.com>", "my order"))
    probe = await receive_message(desk, message("mailbox", "eve@example.com", "<e1@example.com>", "what is in it?",
                                                ticket_number=first.ticket_number, references=("<a1@example.com>",),
                                                explicit_threads=True))
    assert probe.ticket_id != first.ticket_id and probe.new_ticket
