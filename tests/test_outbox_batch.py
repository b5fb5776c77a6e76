"""Outbox rows: chats are sent to side by side, each at its own pace; one chat strictly in order; outcomes grouped."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select, update

from bot.actions.inbox import receive_message
from bot.actions.outbox import claim_due
from bot.actions.operators import create_operator, log_in
from bot.actions.tickets import reply_to_ticket
from bot.domain import InboundMessage
from bot.errors import DeliveryError
from bot.outbox import DeliveryWorker
from bot.storage.models import Message, OutboxItem, utcnow


class ScriptedChannel:
    """A channel at the adapter boundary that records every send's start and end, and fails where told."""

    name = "webchat"

    def __init__(self, faults: dict[str, DeliveryError] | None = None):
        self.faults = faults or {}  # message text -> the error its send raises
        self.log: list[tuple[str, str]] = []  # ("start" | "done", text)
        self.gates: dict[str, asyncio.Event] = {}  # message text -> its send waits for this
        self.sent = []

    async def send(self, message):
        self.log.append(("start", message.text))
        gate = self.gates.get(message.text)
        if gate is not None:
            # A guard, not a synchronisation: if the other chat waited behind this one, the test fails here.
            await asyncio.wait_for(gate.wait(), 10)
        if message.text in self.faults:
            self.log.append(("failed", message.text))
            raise self.faults[message.text]
        self.sent.append(message)
        self.log.append(("done", message.text))
        return f"platform-{message.message_id}"


async def replies(desk, script: dict[str, list[str]]) -> dict[str, int]:
    """Each visitor writes once; the operator answers with the given texts. Returns text -> message id."""
    await create_operator(desk, "anna", "Anna", "password-123", "operator", ["general"], ["en"])
    _, viewer = await log_in(desk, "anna", "password-123")
    ids = {}
    for visitor, texts in script.items():
        receipt = await receive_message(desk, InboundMessage(
            channel="webchat", user_id=visitor, chat_id=visitor, message_id=f"{visitor}:1", text="Help",
            sent_at=datetime.now(timezone.utc)))
        for text in texts:
            ids[text] = await reply_to_ticket(desk, viewer, receipt.ticket_id, text)
    return ids


async def rows(desk, ids: dict[str, int]) -> dict[str, tuple[Message, OutboxItem]]:
    async with desk.sessions() as s:
        found = {}
        for text, message_id in ids.items():
            item = (await s.execute(select(OutboxItem).where(OutboxItem.message_id == message_id))).scalar_one()
            found[text] = (await s.get(Message, message_id), item)
        return found


async def test_a_slow_chat_does_not_hold_up_another_and_keeps_its_own_order(desk):
    ids = await replies(desk, {"a": ["A1", "A2"], "b": ["B1"]})
    channel = ScriptedChannel()
    channel.gates["A1"] = b_done = asyncio.Event()
    original = channel.send

    async def send(message):
        platform_id = await original(message)
        if message.text == "B1":
            b_done.set()  # chat A's first send finishes only once chat B's went through
        return platform_id

    channel.send = send
    assert await DeliveryWorker(desk, {"webchat": channel}).run_once() == 3
    done = [text for what, text in channel.log if what == "done"]
    assert done == ["B1", "A1", "A2"]
    assert channel.log.index(("start", "A2")) > channel.log.index(("done", "A1"))  # A2 waited for A1
    for message, item in (await rows(desk, ids)).values():
        assert item.status == "sent" and message.delivery_status == "sent"
        assert message.external_id == f"out:platform-{message.id}"


async def test_a_batch_records_sends_failures_and_waits_together(desk):
    ids = await replies(desk, {"ok": ["sent fine"], "flaky": ["try later", "after it"], "busy": ["rate limited"],
                               "gone": ["blocked", "still goes"]})
    channel = ScriptedChannel({"try later": DeliveryError("the server said try later"),
                               "rate limited": DeliveryError("Too Many Requests", retry_after=30),
                               "blocked": DeliveryError("the client blocked us", permanent=True)})
    before = utcnow()
    assert await DeliveryWorker(desk, {"webchat": channel}).run_once() == 6
    found = await rows(desk, ids)

    message, item = found["sent fine"]
    assert item.status == "sent" and message.delivery_status == "sent" and item.attempts == 1

    message, item = found["try later"]  # a failed attempt: back-off
    assert item.status == "pending" and item.attempts == 1 and item.last_error == "the server said try later"
    first_retry = desk.settings.outbox.first_retry_seconds
    assert item.next_attempt_at >= before + timedelta(seconds=0.8 * first_retry)
    assert message.delivery_status == "queued"
    held, held_item = found["after it"]  # never tried: the chat's order holds it behind "try later"
    assert ("start", "after it") not in channel.log
    assert held_item.status == "pending" and held_item.attempts == 0 and held.delivery_status == "queued"
    assert held_item.next_attempt_at == item.next_attempt_at

    message, item = found["rate limited"]  # the channel's retry_after: a wait, not a failed attempt
    assert item.status == "pending" and item.attempts == 0
    assert before + timedelta(seconds=29) <= item.next_attempt_at <= utcnow() + timedelta(seconds=31)

    message, item = found["blocked"]  # permanent: failed for good, and the chat's next message still goes
    assert item.status == "failed" and message.delivery_status == "failed" and "blocked" in message.delivery_error
    message, item = found["still goes"]
    assert item.status == "sent" and message.delivery_status == "sent"


async def test_a_ticket_s_second_reply_in_a_batch_names_the_first_in_its_thread(desk):
    ids = await replies(desk, {"a": ["first", "second"]})
    channel = ScriptedChannel()
    await DeliveryWorker(desk, {"webchat": channel}).run_once()
    first, second = channel.sent
    assert f"platform-{ids['first']}" not in first.references
    assert second.references[-1] == f"platform-{ids['first']}"


async def until(condition, what: str, timeout: float = 10) -> None:
    """A bounded look, every 10 ms, for something the worker does on its own (``condition`` may be async)."""
    async def look():
        while not ((await result) if asyncio.iscoroutine(result := condition()) else result):
            await asyncio.sleep(0.01)
    try:
        await asyncio.wait_for(look(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting until {what}") from None


async def test_a_chat_paced_by_its_channel_does_not_hold_back_a_reply_to_another(desk):
    """Telegram lets a bot send about one message a second to one chat: a chat with replies queued
    waits between them. A reply to another client, written meanwhile, goes out without waiting for them."""
    ids = await replies(desk, {"a": ["A1", "A2", "A3"]})
    channel = ScriptedChannel()
    channel.gates["A2"] = paced = asyncio.Event()  # chat A's pace: its second reply may not go yet
    worker = DeliveryWorker(desk, {"webchat": channel})
    await worker.start()
    try:
        await until(lambda: ("start", "A2") in channel.log, "chat A's second reply waits for its turn")
        await replies_to_another(desk, "b", "B1")
        # Well inside the gate's own 10 s guard: a worker that waited for chat A fails here.
        await until(lambda: ("done", "B1") in channel.log, "the other client's reply is sent", timeout=5)
        assert ("done", "A3") not in channel.log  # sent before chat A's queue was through
        paced.set()

        async def all_recorded():
            return all(item.status == "sent" for _, item in (await rows(desk, ids)).values())
        await until(all_recorded, "chat A's replies are all recorded as sent")
    finally:
        await worker.stop()
    assert [text for what, text in channel.log if what == "done" and text.startswith("A")] == ["A1", "A2", "A3"]
    assert channel.log.index(("start", "A3")) > channel.log.index(("done", "A2"))
    for message, item in (await rows(desk, ids)).values():
        assert item.attempts == 1 and message.delivery_status == "sent"


async def replies_to_another(desk, visitor: str, text: str) -> int:
    """A second client writes and the operator (already logged in as anna) answers."""
    _, viewer = await log_in(desk, "anna", "password-123")
    receipt = await receive_message(desk, InboundMessage(
        channel="webchat", user_id=visitor, chat_id=visitor, message_id=f"{visitor}:1", text="Help",
        sent_at=datetime.now(timezone.utc)))
    return await reply_to_ticket(desk, viewer, receipt.ticket_id, text)


async def test_a_reply_written_while_an_earlier_one_waits_for_its_retry_goes_after_it(desk):
    """A reply failed for a moment and waits for its retry; the operator writes again. The client
    reads the replies in the order they were written, not the new one first."""
    ids = await replies(desk, {"a": ["first", "second"]})
    channel = ScriptedChannel({"first": DeliveryError("Too Many Requests", retry_after=30)})
    worker = DeliveryWorker(desk, {"webchat": channel})
    assert await worker.run_once() == 2  # "first" must wait, "second" is held back behind it
    _, viewer = await log_in(desk, "anna", "password-123")
    first, _ = (await rows(desk, ids))["first"]
    await reply_to_ticket(desk, viewer, first.ticket_id, "third")
    assert await worker.run_once() == 0  # "third" is due, but waits behind "first"
    del channel.faults["first"]
    async with desk.sessions() as s, s.begin():
        await s.execute(update(OutboxItem).where(OutboxItem.status == "pending").values(next_attempt_at=utcnow()))
    assert await worker.run_once() == 3
    assert [m.text for m in channel.sent] == ["first", "second", "third"]


async def test_a_stopping_worker_records_the_send_under_way_and_gives_back_the_rest(desk):
    """The desk is restarted while a chat's replies are paced out: the reply being sent is recorded as
    sent (not sent again later), and the replies not tried yet go out at once after the restart."""
    ids = await replies(desk, {"a": ["A1", "A2", "A3"]})
    channel = ScriptedChannel()
    channel.gates["A1"] = paced = asyncio.Event()
    worker = DeliveryWorker(desk, {"webchat": channel})
    await worker.start()
    await until(lambda: ("start", "A1") in channel.log, "the first reply is being sent")
    stopping = asyncio.create_task(worker.stop())
    await until(lambda: worker._stopping, "the worker is stopping")
    paced.set()
    await stopping
    found = await rows(desk, ids)
    message, item = found["A1"]
    assert item.status == "sent" and message.delivery_status == "sent"
    for text in ("A2", "A3"):
        message, item = found[text]
        assert ("start", text) not in channel.log
        assert item.status == "pending" and item.attempts == 0 and item.next_attempt_at <= utcnow()
    restarted = ScriptedChannel()
    assert await DeliveryWorker(desk, {"webchat": restarted}).run_once() == 2
    assert [m.text for m in restarted.sent] == ["A2", "A3"]


async def test_the_claim_checks_a_ticket_s_earlier_rows_along_its_index(desk):
    """The claim's "nothing earlier of this ticket is unsent" must probe the ticket's unsent rows, not walk
    every unsent row or every message of the ticket per candidate: that held SQLite's write lock for
    40-160 ms a claim with a backlog of a few thousand rows (before migration 0014)."""
    engine = desk.sessions.kw["bind"]
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query plan; PostgreSQL plans by its statistics")
    await replies(desk, {"a": ["first", "second"], "b": ["third"]})
    statements = []

    def seen(_conn, _cursor, statement, params, _context, _many):
        if statement.lstrip().startswith("SELECT") and "FROM outbox" in statement:
            statements.append((statement, params))
    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        assert len(await claim_due(desk, 10)) == 3
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    async with engine.connect() as conn:
        plans = [" / ".join(row[3] for row in await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params))
                 for statement, params in statements]
    assert len(plans) == 2 and "EXISTS" in statements[0][0], statements  # the heads, then their followers
    for plan in plans:
        assert "messages" not in plan and "SCAN outbox_1" not in plan, plan
    assert "ix_outbox_ticket_unsent (ticket_id=? AND status=? AND id<?)" in plans[0], plans[0]
