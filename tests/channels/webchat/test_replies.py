"""Operator replies reach the visitor through the outbox; typing and "seen" travel both ways."""
from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.actions.operators import log_in
from bot.actions.tickets import reply_to_ticket
from bot.events import ClientTyping, DeliveryChanged, OperatorTyping
from bot.storage.models import Message, Ticket


async def operator(chat):
    await chat.server.add_operator("anna", queues=("general",))
    _, viewer = await log_in(chat.desk, "anna", "password-123")
    return viewer


async def ticket_id(desk, number: int) -> int:
    async with desk.sessions() as s:
        return (await s.execute(select(Ticket.id).where(Ticket.number == number))).scalar_one()


def wait_for(desk, event_type, predicate=lambda e: True) -> asyncio.Future:
    """A future resolved by the first matching event on the desk's bus (subscribe before acting)."""
    future = asyncio.get_running_loop().create_future()

    async def listener(event) -> None:
        if predicate(event) and not future.done():
            future.set_result(event)
            desk.bus.unsubscribe(event_type, listener)

    desk.bus.subscribe(event_type, listener)
    return future


async def test_an_operator_reply_reaches_the_open_widget_live(chat):
    viewer = await operator(chat)
    visitor = await chat.visitor()
    ack = await visitor.say("q1", "Is the Fjord sofa available in grey?")
    ticket = await ticket_id(chat.desk, ack["ticket"])
    reply_id = await reply_to_ticket(chat.desk, viewer, ticket, "Yes, grey ships in 3 days.")
    frame = await visitor.message(lambda f: f["author"] == "operator")
    assert frame["message_id"] == reply_id and frame["client_id"] is None
    assert frame["author_name"] == "Anna" and frame["text"] == "Yes, grey ships in 3 days."


async def test_a_reply_sent_while_the_visitor_was_away_arrives_on_resume(chat):
    viewer = await operator(chat)
    visitor = await chat.visitor()
    ack = await visitor.say("q1", "Hello?")
    await visitor.message()  # the stored form of the visitor's own message
    await visitor.ws.close()
    sent = wait_for(chat.desk, DeliveryChanged, lambda e: e.status == "sent")
    reply_id = await reply_to_ticket(chat.desk, viewer, await ticket_id(chat.desk, ack["ticket"]), "We are here.")
    await sent  # the outbox handed it to the adapter while no socket was open
    back = await chat.visitor(token=visitor.token, last_seen=ack["message_id"])
    assert [(f["message_id"], f["author"], f["text"]) for f in back.history] == [(reply_id, "operator", "We are here.")]


async def test_nothing_is_lost_or_doubled_across_reconnects(chat):
    """Messages written on both sides across three connections: the union of what the widget saw is
    the whole conversation, each message once, in order."""
    viewer = await operator(chat)
    seen: list[int] = []
    visitor = await chat.visitor()
    ack = await visitor.say("a", "one")
    ticket = await ticket_id(chat.desk, ack["ticket"])
    seen += [f["message_id"] for f in visitor.history]
    seen.append((await visitor.message())["message_id"])
    await reply_to_ticket(chat.desk, viewer, ticket, "two")
    seen.append((await visitor.message(lambda f: f["text"] == "two"))["message_id"])
    await visitor.ws.close()

    sent = wait_for(chat.desk, DeliveryChanged, lambda e: e.status == "sent")
    await reply_to_ticket(chat.desk, viewer, ticket, "three (while away)")
    await sent
    visitor = await chat.visitor(token=visitor.token, last_seen=max(seen))
    seen += [f["message_id"] for f in visitor.history]
    await visitor.say("b", "four")
    seen.append((await visitor.message(lambda f: f["text"] == "four"))["message_id"])
    await visitor.ws.close()

    fresh = await chat.visitor(token=visitor.token, last_seen=0)
    everything = [f["message_id"] for f in fresh.history]
    assert [f["text"] for f in fresh.history] == ["one", "two", "three (while away)", "four"]
    assert seen == everything and len(set(seen)) == 4


async def test_operator_typing_shows_in_the_widget_and_visitor_typing_reaches_the_desk(chat):
    viewer = await operator(chat)
    visitor = await chat.visitor()
    ack = await visitor.say("t1", "hi")
    ticket = await ticket_id(chat.desk, ack["ticket"])
    chat.desk.bus.publish(OperatorTyping(ticket_id=ticket, operator_id=viewer.id))
    assert await visitor.next("typing") == {"type": "typing", "author": "operator"}

    typing = wait_for(chat.desk, ClientTyping)
    await visitor.send({"type": "typing"})
    assert (await typing).ticket_id == ticket


async def test_seen_marks_the_reply_delivered(chat):
    viewer = await operator(chat)
    visitor = await chat.visitor()
    ack = await visitor.say("s1", "hi")
    ticket = await ticket_id(chat.desk, ack["ticket"])
    sent = wait_for(chat.desk, DeliveryChanged, lambda e: e.status == "sent")
    reply_id = await reply_to_ticket(chat.desk, viewer, ticket, "Hello from Anna")
    await visitor.message(lambda f: f["author"] == "operator")
    await sent
    delivered = wait_for(chat.desk, DeliveryChanged, lambda e: e.status == "delivered")
    await visitor.send({"type": "seen", "up_to": reply_id})
    assert (await delivered).message_id == reply_id
    async with chat.desk.sessions() as s:
        assert (await s.get(Message, reply_id)).delivery_status == "delivered"


async def test_seen_cannot_claim_messages_the_socket_never_carried(chat):
    from bot.app import WORKER

    viewer = await operator(chat)
    visitor = await chat.visitor()
    ack = await visitor.say("s1", "hi")
    await visitor.message()
    await chat.server.app[WORKER].stop()  # the reply stays queued: never pushed to the widget
    reply_id = await reply_to_ticket(chat.desk, viewer, await ticket_id(chat.desk, ack["ticket"]), "not pushed")
    await visitor.send({"type": "seen", "up_to": reply_id + 1000})
    await visitor.send({"type": "ping"})
    await visitor.next("pong")  # frames are handled in order: the seen is done
    async with chat.desk.sessions() as s:
        assert (await s.get(Message, reply_id)).delivery_status == "queued"
