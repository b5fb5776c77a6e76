"""/healthz and /metrics: liveness with the database, and Prometheus figures read from the database."""
from __future__ import annotations

from datetime import datetime, timezone

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import create_async_engine

from bot.actions.context import Desk
from bot.actions.inbox import receive_message
from bot.actions.operators import create_api_token, create_operator, token_viewer
from bot.actions.tickets import reply_to_ticket, resolve_ticket, transfer_ticket
from bot.domain import InboundMessage, OutboundMessage
from bot.events import EventBus
from bot.ops import setup_ops
from bot.outbox import DeliveryWorker
from bot.storage.engine import session_factory
from bot.web import DESK
from tests.conftest import free_port


class RecordingChannel:
    """A channel adapter that accepts every send, so the worker marks messages sent."""

    def __init__(self, name: str):
        self.name = name
        self.sent: list[OutboundMessage] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message: OutboundMessage) -> str:
        self.sent.append(message)
        return f"{self.name}-{len(self.sent)}"


async def serve(desk: Desk):
    """Only the operations endpoints, over the given desk, on a loopback port."""
    app = web.Application()
    app[DESK] = desk
    setup_ops(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def ops_url(desk):
    runner, url = await serve(desk)
    yield url
    await runner.cleanup()


async def fetch(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        return r.status, r.headers["Content-Type"], await r.text()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a Prometheus text exposition, keyed by (sample name, sorted labels)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def inbound(channel: str, user: str, n: int, text: str = "Hello") -> InboundMessage:
    return InboundMessage(channel=channel, user_id=user, chat_id=user, message_id=f"{user}:{n}", text=text,
                          sent_at=datetime.now(timezone.utc))


async def test_healthz_says_ok_when_the_database_answers(ops_url):
    status, content_type, body = await fetch(f"{ops_url}/healthz")
    assert status == 200 and content_type.startswith("application/json") and '"ok"' in body


async def test_healthz_says_unhealthy_when_the_database_cannot_be_reached(desk, tmp_path):
    # SQLite does not create missing directories, so this database cannot be opened.
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'desk.db'}")
    broken = Desk(session_factory(engine), EventBus(), desk.settings, desk.files)
    runner, url = await serve(broken)
    try:
        status, _, body = await fetch(f"{url}/healthz")
    finally:
        await runner.cleanup()
        await engine.dispose()
    assert status == 503 and "unhealthy" in body


async def test_metrics_count_messages_backlog_and_open_tickets(desk, ops_url):
    await create_operator(desk, "boss", "Boss", "password-123", "admin", [], ["en"])
    boss = await token_viewer(desk, await create_api_token(desk, "boss"))
    a = await receive_message(desk, inbound("webchat", "visitor-a", 1))
    await receive_message(desk, inbound("webchat", "visitor-a", 2))
    b = await receive_message(desk, inbound("webchat", "visitor-b", 1))
    c = await receive_message(desk, inbound("email", "jane@example.com", 1))
    await transfer_ticket(desk, boss, b.ticket_id, queue="billing")
    await resolve_ticket(desk, boss, c.ticket_id)
    await reply_to_ticket(desk, boss, a.ticket_id, "First answer")
    await reply_to_ticket(desk, boss, a.ticket_id, "Second answer")

    status, content_type, text = await fetch(f"{ops_url}/metrics")
    assert status == 200 and content_type.startswith("text/plain") and "version=0.0.4" in content_type
    before = samples(text)
    assert before[("helpline_messages_received_total", (("channel", "webchat"),))] == 3
    assert before[("helpline_messages_received_total", (("channel", "email"),))] == 1
    assert not any(name == "helpline_messages_sent_total" for name, _ in before)  # queued is not sent
    assert before[("helpline_outbox_backlog", ())] == 2
    assert before[("helpline_open_tickets", (("queue", "general"),))] == 1
    assert before[("helpline_open_tickets", (("queue", "billing"),))] == 1
    assert before[("helpline_open_tickets", (("queue", "delivery"),))] == 0

    channel = RecordingChannel("webchat")
    assert await DeliveryWorker(desk, {"webchat": channel}).run_once() == 2
    await reply_to_ticket(desk, boss, a.ticket_id, "Third answer, not sent yet")
    after = samples((await fetch(f"{ops_url}/metrics"))[2])
    assert after[("helpline_messages_sent_total", (("channel", "webchat"),))] == 2
    assert after[("helpline_outbox_backlog", ())] == 1
    assert [m.text for m in channel.sent] == ["First answer", "Second answer"]


async def test_the_running_desk_serves_both(live_server):
    status, _, _ = await fetch(f"{live_server.url}/healthz")
    assert status == 200
    status, _, text = await fetch(f"{live_server.url}/metrics")
    assert status == 200
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert families == {"helpline_messages_received": "counter", "helpline_messages_sent": "counter",
                        "helpline_outbox_backlog": "gauge", "helpline_open_tickets": "gauge",
                        "helpline_retention_last_run_timestamp": "gauge", "helpline_retention_waiting": "gauge"}


async def test_both_show_the_retention_jobs_last_run_and_what_waits_for_it(desk, ops_url):
    import json
    from datetime import timedelta

    from sqlalchemy import update

    from bot.actions.retention import apply_retention
    from bot.config import RetentionSettings
    from bot.storage.models import Ticket

    await create_operator(desk, "boss", "Boss", "password-123", "admin", [], ["en"])
    boss = await token_viewer(desk, await create_api_token(desk, "boss"))
    a = await receive_message(desk, inbound("webchat", "v1", 1, "my address is Elm street 5"))
    await receive_message(desk, inbound("webchat", "v1", 2, "and my phone"))
    await resolve_ticket(desk, boss, a.ticket_id)
    async with desk.sessions() as s:  # resolved 40 days ago: only the clock moves
        await s.execute(update(Ticket).values(resolved_at=datetime.now(timezone.utc) - timedelta(days=40)))
        await s.commit()
    health = json.loads((await fetch(f"{ops_url}/healthz"))[2])
    assert health["retention"] == {"enabled": False, "last_run": None, "waiting": {"files": 0}}
    assert samples((await fetch(f"{ops_url}/metrics"))[2])[("helpline_retention_last_run_timestamp", ())] == 0

    desk.settings = desk.settings.model_copy(update={"retention": RetentionSettings(messages_days=30)})
    before = samples((await fetch(f"{ops_url}/metrics"))[2])
    assert before[("helpline_retention_last_run_timestamp", ())] == 0
    assert before[("helpline_retention_waiting", (("kind", "messages"),))] == 2

    ran_at = datetime.now(timezone.utc)
    await apply_retention(desk, now=ran_at)
    after = samples((await fetch(f"{ops_url}/metrics"))[2])
    assert after[("helpline_retention_last_run_timestamp", ())] == ran_at.timestamp()
    assert after[("helpline_retention_waiting", (("kind", "messages"),))] == 0
    health = json.loads((await fetch(f"{ops_url}/healthz"))[2])
    assert health["retention"] == {"enabled": True, "last_run": ran_at.isoformat(), "waiting": {
        "files": 0, "messages": 0, "attachments": 0, "notes_and_feedback": 0}}
