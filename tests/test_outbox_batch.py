"""A batch of outbox rows: chats are sent to concurrently, one chat strictly in order, outcomes recorded together."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from bot.actions.inbox import receive_message
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
