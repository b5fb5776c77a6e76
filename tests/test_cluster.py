"""Several desk processes on one PostgreSQL: live chat across processes, singletons that move, one delivery.

Each "process" is a create_app instance with its own engine, event bus and port, as `helpline run`
would start it; they share only the database.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from bot.actions.inbox import receive_message
from bot.actions.operators import create_operator, log_in
from bot.actions.tickets import reply_to_ticket
from bot.domain import InboundMessage
from bot.events import TicketChanged
from bot.outbox import DeliveryWorker
from bot.pgbus import PgEventBus, asyncpg_dsn
from bot.storage.singleton import run_alone
from tests.channels.webchat.conftest import Chat
from tests.conftest import PG_URL, LiveServer, free_port, make_settings

pytestmark = pytest.mark.skipif(not PG_URL, reason="several desk processes need a shared PostgreSQL: "
                                                   "set HELPLINE_TEST_DATABASE_URL")
TIMEOUT = 10  # a bound on every wait, never a way to wait
# pg_locks shows the whole server: look only at this test run's private database.
THIS_DATABASE = " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"


async def until(condition, timeout: float = TIMEOUT) -> None:
    """Wait for ``condition()`` to hold, looking every 20 ms; fail after ``timeout``."""
    async def look():
        while not condition():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(look(), timeout)


async def start_process(tmp_path, database_url, name: str) -> tuple[LiveServer, web.AppRunner]:
    from bot.app import create_app
    from bot.web import DESK

    settings = make_settings(tmp_path / name, database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(settings, public_url=url, auto_migrate=True)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return LiveServer(app, url, app[DESK]), runner


async def console_frame(ws, *types: str) -> dict:
    while True:
        msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        frame = msg.json()
        if not types or frame["type"] in types:
            return frame


async def test_a_visitor_on_one_process_and_an_operator_on_another_talk_live(tmp_path, database_url):
    from bot.app import WORKER

    a, runner_a = await start_process(tmp_path, database_url, "a")
    b, runner_b = await start_process(tmp_path, database_url, "b")
    try:
        await a.add_operator("anna")
        # Only B's outbox worker sends: the reply reaches A's socket through the relay, not by luck.
        await a.app[WORKER].stop()
        async with aiohttp.ClientSession() as http, await b.logged_in("anna") as console:
            async with console.ws_connect(f"{b.url}/console/ws", origin=b.url) as ws:
                await ws.send_json({"type": "ping"})
                assert await console_frame(ws) == {"type": "pong"}
                visitor = await Chat(a, http).visitor()
                ack = await visitor.say("q1", "Is the Fjord sofa available in grey?")
                row = await console_frame(ws, "ticket")  # published on A, shown on B
                assert row["ticket"]["number"] == ack["ticket"]
                await ws.send_json({"type": "watch", "ticket": ack["ticket"], "after": 0})
                await console_frame(ws, "watching")
                await visitor.say("q2", "Hello from process A?")
                message = await console_frame(ws, "message")
                while message["message"]["text"] != "Hello from process A?":
                    message = await console_frame(ws, "message")
                assert message["message"]["author"] == "client"

                _, viewer = await log_in(b.desk, "anna", "password-123")
                ticket_id = await _ticket_id(b, ack["ticket"])
                reply_id = await reply_to_ticket(b.desk, viewer, ticket_id, "Yes, grey ships in 3 days.")
                frame = await visitor.message(lambda f: f["author"] == "operator")
                assert (frame["message_id"], frame["text"]) == (reply_id, "Yes, grey ships in 3 days.")
    finally:
        await runner_b.cleanup()
        await runner_a.cleanup()


async def _ticket_id(server: LiveServer, number: int) -> int:
    from sqlalchemy import select

    from bot.storage.models import Ticket

    async with server.desk.sessions() as s:
        return (await s.execute(select(Ticket.id).where(Ticket.number == number))).scalar_one()


async def test_events_cross_processes_once_and_survive_a_lost_connection(database_url):
    one, two = PgEventBus(database_url), PgEventBus(database_url)
    heard: dict[str, list[str]] = {"one": [], "two": []}

    async def on_one(event):
        heard["one"].append(event.what)

    async def on_two(event):
        heard["two"].append(event.what)

    one.subscribe(TicketChanged, on_one, everywhere=True)
    two.subscribe(TicketChanged, on_two, everywhere=True)
    await one.start()
    await two.start()
    try:
        one.publish(TicketChanged(ticket_id=1, what="assigned"))
        await until(lambda: heard["two"] == ["assigned"])
        await one.drain()
        assert heard["one"] == ["assigned"]  # the publisher heard it once, not again from NOTIFY

        # PostgreSQL drops both connections (a restart, a network cut): the buses reconnect.
        pids = [one._conn.get_server_pid(), two._conn.get_server_pid()]
        admin = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            await admin.execute("SELECT pg_terminate_backend(p) FROM unnest($1::int[]) AS p", pids)
        finally:
            await admin.close()
        await until(lambda: one.reconnects >= 1 and two.reconnects >= 1)
        two.publish(TicketChanged(ticket_id=1, what="resolved"))
        await until(lambda: heard["one"] == ["assigned", "resolved"])
        await two.drain()
        assert heard["two"] == ["assigned", "resolved"]
    finally:
        await one.stop()
        await two.stop()


async def test_a_burst_of_events_crosses_in_order_each_once_even_when_equal(database_url):
    one, two = PgEventBus(database_url), PgEventBus(database_url)
    heard: list[tuple[int, str]] = []

    async def on_two(event):
        heard.append((event.ticket_id, event.what))

    two.subscribe(TicketChanged, on_two, everywhere=True)
    await one.start()
    await two.start()
    try:
        # Sent in batches of statements: PostgreSQL would merge equal payloads of one statement.
        burst = [(i // 2, "assigned") for i in range(250)]
        one.publish(*(TicketChanged(ticket_id=t, what=w) for t, w in burst))
        await one.drain()
        await until(lambda: len(heard) >= len(burst))
        assert heard == burst
    finally:
        await one.stop()
        await two.stop()


async def test_a_batch_listener_hears_another_process_s_burst_in_order_each_once(database_url):
    one, two = PgEventBus(database_url), PgEventBus(database_url)
    heard: list[int] = []

    async def on_two(events):
        heard.extend(event.ticket_id for event in events)

    two.subscribe(TicketChanged, on_two, everywhere=True, batch=True)
    await one.start()
    await two.start()
    try:
        one.publish(*(TicketChanged(ticket_id=i, what="assigned") for i in range(300)))
        await one.drain()
        await until(lambda: len(heard) >= 300)
        await two.drain()
        assert heard == list(range(300))
    finally:
        await one.stop()
        await two.stop()


async def test_a_singleton_runs_in_one_process_and_moves_when_its_holder_dies(desk):
    from sqlalchemy.ext.asyncio import create_async_engine

    engines = [desk.sessions.kw["bind"], create_async_engine(desk.settings.database_url)]
    running: list[int] = []
    started = [asyncio.Event(), asyncio.Event()]

    def body(n: int):
        async def run() -> None:
            running.append(n)
            started[n].set()
            try:
                await asyncio.Event().wait()  # a worker loop: runs until cancelled
            finally:
                running.remove(n)
        return run

    first = asyncio.create_task(run_alone(engines[0], "test-timer", body(0), retry_seconds=0.2))
    await asyncio.wait_for(started[0].wait(), TIMEOUT)
    second = asyncio.create_task(run_alone(engines[1], "test-timer", body(1), retry_seconds=0.2))
    try:
        admin = await asyncpg.connect(asyncpg_dsn(desk.settings.database_url))
        try:
            async def held() -> int:
                return await admin.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted" + THIS_DATABASE)
            assert await held() == 1
        finally:
            await admin.close()
        assert running == [0]
        first.cancel()  # the holder stops (its connection ends with it)
        await asyncio.wait_for(started[1].wait(), TIMEOUT)
        assert running == [1]
    finally:
        for task in (first, second):
            task.cancel()
        await asyncio.gather(first, second, return_exceptions=True)
        await engines[1].dispose()


async def test_a_singleton_stops_when_its_lock_connection_is_cut(desk):
    running = asyncio.Event()
    stopped = asyncio.Event()
    runs = 0

    async def body() -> None:
        nonlocal runs
        runs += 1
        running.set()
        try:
            await asyncio.Event().wait()
        finally:
            running.clear()
            stopped.set()

    engine = desk.sessions.kw["bind"]
    task = asyncio.create_task(run_alone(engine, "test-cut", body, retry_seconds=0.2))
    try:
        await asyncio.wait_for(running.wait(), TIMEOUT)
        admin = await asyncpg.connect(asyncpg_dsn(desk.settings.database_url))
        try:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted" + THIS_DATABASE)
        finally:
            await admin.close()
        await asyncio.wait_for(stopped.wait(), TIMEOUT)  # no lock, no loop
        await until(lambda: runs == 2 and running.is_set())  # then it takes the lock again
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class CountingChannel:
    name = "fakechat"

    def __init__(self) -> None:
        self.sent: list[int] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message) -> str:
        self.sent.append(message.message_id)
        await asyncio.sleep(0)  # let the other worker interleave
        return f"fake-{message.message_id}"


async def replies_and_another_process(desk, count: int):
    """A client's ticket with `count` queued operator replies (their ids, in order), and a second desk on
    its own engine over the same database, as another `helpline run` process would have."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from bot.actions.context import Desk
    from bot.events import EventBus
    from bot.storage.engine import session_factory

    await create_operator(desk, "anna", "Anna", "password-123", "operator", ["general"], ["en"])
    _, viewer = await log_in(desk, "anna", "password-123")
    receipt = await receive_message(desk, InboundMessage(
        channel="fakechat", user_id="u1", chat_id="u1", message_id="m1", text="Hello?",
        sent_at=datetime.now(timezone.utc)))
    replies = [await reply_to_ticket(desk, viewer, receipt.ticket_id, f"Answer {n}") for n in range(count)]
    other = Desk(session_factory(create_async_engine(desk.settings.database_url)), EventBus(), desk.settings, desk.files)
    return replies, other


async def test_two_outbox_workers_deliver_each_message_once(desk, monkeypatch):
    monkeypatch.setattr("bot.outbox.BATCH", 4)
    replies, other = await replies_and_another_process(desk, 40)
    other_engine = other.sessions.kw["bind"]
    channel = CountingChannel()
    workers = [DeliveryWorker(desk, {"fakechat": channel}), DeliveryWorker(other, {"fakechat": channel})]

    async def work(worker: DeliveryWorker) -> None:
        while await worker.run_once():
            pass
    try:
        await asyncio.gather(*(work(w) for w in workers))
        assert sorted(channel.sent) == sorted(replies)  # every reply once, none twice
    finally:
        await other.bus.drain()
        await other_engine.dispose()


class HoldingChannel(CountingChannel):
    """Holds one message's send until released, so another process can try to claim meanwhile."""

    def __init__(self, held: int) -> None:
        super().__init__()
        self.held = held
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, message) -> str:
        if message.message_id == self.held:
            self.holding.set()
            await asyncio.wait_for(self.release.wait(), TIMEOUT)
        return await super().send(message)


async def test_two_outbox_workers_keep_one_client_s_replies_in_order(desk, monkeypatch):
    """Two processes share the outbox. While one is still sending a client's first reply (Telegram
    paces a chat at a message a second), the other must not take the client's later replies and
    send them first: the client reads the replies in the order the operator wrote them."""
    monkeypatch.setattr("bot.outbox.BATCH", 4)
    replies, other = await replies_and_another_process(desk, 12)
    other_engine = other.sessions.kw["bind"]
    channel = HoldingChannel(held=replies[0])
    first, second = DeliveryWorker(desk, {"fakechat": channel}), DeliveryWorker(other, {"fakechat": channel})
    sending = asyncio.create_task(first.run_once())
    try:
        await asyncio.wait_for(channel.holding.wait(), TIMEOUT)
        await second.run_once()
        assert channel.sent == []  # nothing overtook the first reply
        channel.release.set()
        await sending
        for _ in range(len(replies)):  # a bound, not a wait: each round sends at least one reply
            if len(channel.sent) == len(replies):
                break
            await asyncio.gather(first.run_once(), second.run_once())
        assert channel.sent == replies  # each once, in the order written
    finally:
        channel.release.set()
        await asyncio.gather(sending, return_exceptions=True)
        await other.bus.drain()
        await other_engine.dispose()
