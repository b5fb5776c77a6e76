"""A message that becomes visible after a newer one was shown still reaches the visitor on resume.

Message ids are handed out when a transaction inserts, but transactions commit (and deliveries
push) in any order. The scenario: reply A is stored first, reply B second; B reaches the widget,
the socket drops, and only then does A commit (PostgreSQL) or get pushed (any engine: another
process's outbox, a slow delivery). The widget resumes "after B"; it must still get A, once.
"""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.actions.context import unit_of_work
from bot.actions.operators import log_in
from bot.actions.tickets import queue_outbound, reply_to_ticket
from bot.app import ADAPTERS
from bot.domain import AuthorKind, OutboundMessage
from bot.storage.models import Ticket
from channels.webchat.normalize import visitor_key
from tests.channels.webchat.conftest import HeldDelivery, delivered


async def ticket_id(desk, number: int) -> int:
    async with desk.sessions() as s:
        return (await s.execute(select(Ticket.id).where(Ticket.number == number))).scalar_one()


async def opened(chat):
    """A visitor with a ticket and the stored form of their first message shown."""
    visitor = await chat.visitor()
    ack = await visitor.say("q1", "Is the Fjord sofa available in grey?")
    await visitor.message(lambda f: f["message_id"] == ack["message_id"])
    return visitor, ack


async def test_a_reply_pushed_after_a_newer_one_is_replayed_after_the_socket_dropped(chat):
    """Any engine: reply A is stored before B, but B is pushed first (another process's outbox) and
    the socket drops before A's delivery runs."""
    adapter = chat.server.app[ADAPTERS]["webchat"]
    await chat.server.add_operator("anna", queues=("general",))
    _, viewer = await log_in(chat.desk, "anna", "password-123")
    visitor, ack = await opened(chat)
    ticket = await ticket_id(chat.desk, ack["ticket"])

    held = HeldDelivery(adapter, "Yes, in grey.")
    a = await reply_to_ticket(chat.desk, viewer, ticket, "Yes, in grey.")
    b = await reply_to_ticket(chat.desk, viewer, ticket, "It ships in 3 days.")
    assert a < b
    # B goes out ahead of A, as another process's outbox would send it.
    await adapter.send(OutboundMessage(channel="webchat", chat_id=visitor_key(visitor.token), text="It ships in 3 days.",
                                       message_id=b, ticket_public_id="", author_name="Anna"))
    assert (await visitor.message())["message_id"] == b
    await visitor.ws.close()

    await held.release()  # A is handed to the adapter while no socket of the visitor is open

    shown = [ack["message_id"], b]
    back = await chat.visitor(token=visitor.token, last_seen=max(shown), have=shown)
    assert [(f["message_id"], f["text"]) for f in back.history] == [(a, "Yes, in grey.")]
    # An older widget sends only last_seen and gets what it always got: nothing at or below it.
    old = await chat.visitor(token=visitor.token, last_seen=max(shown))
    assert old.history == []


async def test_a_message_committed_after_a_newer_one_is_replayed_after_the_socket_dropped(chat, database_url):
    """PostgreSQL: A is inserted first but commits after B was committed and pushed, and after the drop."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: a transaction that inserted first also commits first")
    visitor, ack = await opened(chat)
    ticket = await ticket_id(chat.desk, ack["ticket"])
    inserted, gate = asyncio.get_running_loop().create_future(), asyncio.Event()

    async def bot_answer_held_before_commit() -> int:
        async with unit_of_work(chat.desk) as unit:
            message = await queue_outbound(unit, await unit.session.get(Ticket, ticket), "Grey is in stock.",
                                           AuthorKind.BOT, None)
            inserted.set_result(message.id)
            await gate.wait()
        return message.id

    held = asyncio.create_task(bot_answer_held_before_commit())
    a = await inserted
    async with unit_of_work(chat.desk) as unit:
        b = (await queue_outbound(unit, await unit.session.get(Ticket, ticket), "An operator will confirm.",
                                  AuthorKind.BOT, None)).id
    assert a < b
    assert (await visitor.message())["message_id"] == b  # committed and pushed while A is not committed yet
    await visitor.ws.close()

    sent = delivered(chat.desk, a)
    gate.set()
    assert await held == a
    await sent

    shown = [ack["message_id"], b]
    back = await chat.visitor(token=visitor.token, last_seen=b, have=shown)
    assert [(f["message_id"], f["text"]) for f in back.history] == [(a, "Grey is in stock.")]


async def test_the_late_message_comes_once_and_before_the_newer_ones_of_the_replay(chat):
    """The replay of a client that shows only some of the recent messages: the missing older one
    first, then everything after its resume point, each once, in id order."""
    visitor, ack = await opened(chat)
    acks = [ack] + [await visitor.say(f"q{i}", f"message {i}") for i in range(2, 6)]
    ids = [a["message_id"] for a in acks]
    await visitor.ws.close()
    # The client shows 1, 3 and 4 (2 was stored late); it resumes after 4 and must get 2, then 5.
    back = await chat.visitor(token=visitor.token, last_seen=ids[3], have=[ids[0], ids[2], ids[3]])
    assert [f["message_id"] for f in back.history] == [ids[1], ids[4]]
    ack = await back.say("q6", "after the resume")
    await back.send({"type": "ping"})
    await back.next("pong")
    assert [f["message_id"] for f in back.frames if f["type"] == "message"] == [ids[1], ids[4], ack["message_id"]]
