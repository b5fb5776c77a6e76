"""Feedback test helpers: a desk with surveys on, a fake email-like channel, operators and resolved tickets."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from aiohttp import web

from bot.actions.context import Desk
from bot.actions.inbox import receive_message
from bot.actions.operators import create_operator, log_in
from bot.actions.tickets import reply_to_ticket, resolve_ticket
from bot.domain import InboundMessage
from tests.console.conftest import FakeChannel
from tests.conftest import LiveServer, free_port, make_settings, migrated_desk

MAIL = "fakemail"  # a channel without buttons: surveys go out as links (link_channels = ["fakemail*"])
QUEUES = [{"name": q} for q in ("general", "billing", "delivery", "complaints")]


def feedback_settings(tmp_path, database_url, **feedback):
    survey = {"enabled": True, "delay_minutes": 60, "channel_delay_minutes": {"webchat": 0},
              "link_channels": [f"{MAIL}*"], **feedback.pop("survey", {})}
    complaints = {"queue": "complaints", **feedback.pop("complaints", {})}
    return make_settings(tmp_path, database_url, queues=QUEUES,
                         feedback={"survey": survey, "complaints": complaints, **feedback})


@pytest.fixture
async def fdesk(tmp_path, database_url):
    """A migrated desk with surveys on (no web server): actions and the worker's passes are called directly."""
    async with migrated_desk(feedback_settings(tmp_path, database_url)) as desk:
        yield desk


class FeedbackServer(LiveServer):
    mail: FakeChannel


@pytest.fixture
async def fserver(tmp_path, database_url):
    """The whole desk on loopback with surveys on, the web chat, and a fake link channel (`fakemail`)."""
    from bot.app import ADAPTERS, create_app
    from bot.web import DESK

    settings = feedback_settings(tmp_path, database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(settings, public_url=url, auto_migrate=True)
    mail = FakeChannel()
    mail.name = MAIL
    app[ADAPTERS][MAIL] = mail
    server = FeedbackServer(app, url, app[DESK])
    server.mail = mail
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield server
    await runner.cleanup()


async def operator(desk: Desk, username: str, role: str = "operator", queues=("general",)):
    """A new operator's Viewer."""
    await create_operator(desk, username, username.title(), "password-123", role, list(queues), ["en"])
    return (await log_in(desk, username, "password-123"))[1]


_seq = 0


async def client_writes(desk: Desk, text: str, *, user: str = "client-1", channel: str = MAIL, payload: str = "",
                        locale: str = "en"):
    global _seq
    _seq += 1
    return await receive_message(desk, InboundMessage(
        channel=channel, user_id=user, chat_id=user, message_id=f"{user}:{_seq}", text=text,
        sent_at=datetime.now(timezone.utc), button_payload=payload, locale_hint=locale, user_name=user.title(),
        explicit_threads=channel == MAIL))  # like email: a message that names no ticket opens a new one


async def resolved_ticket(desk: Desk, viewer, text: str = "Where is my parcel?", **kw) -> int:
    """A client writes, the operator answers and resolves: the ticket id."""
    receipt = await client_writes(desk, text, **kw)
    await reply_to_ticket(desk, viewer, receipt.ticket_id, "It is on its way.")
    await resolve_ticket(desk, viewer, receipt.ticket_id)
    return receipt.ticket_id

