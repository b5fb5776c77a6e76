""""Delivered" means the visitor's widget showed the reply, not merely that its id is below a seen one.

Message ids are handed out before transactions commit and deliveries run, so a reply with a lower
id may still be waiting for its delivery when the widget reports a newer one seen. The console must
not show it "delivered" until a socket carried it and the widget reported it.
"""
from __future__ import annotations


from sqlalchemy import select

from bot.actions.operators import log_in
from bot.actions.tickets import reply_to_ticket
from bot.app import ADAPTERS, WORKER
from bot.domain import OutboundMessage
from bot.storage.models import Message, Ticket
from channels.webchat.normalize import visitor_key
from tests.channels.webchat.conftest import HeldDelivery, delivered


async def status(desk, message_id: int) -> str:
    async with desk.sessions() as s:
        return (await s.get(Message, message_id)).delivery_status


async def seen(visitor, up_to: int) -> None:
    """Report seen and return once the desk has handled it (frames are handled in order)."""
    await visitor.send({"type": "seen", "up_to": up_to})
    await visitor.send({"type": "ping"})
    await visitor.next("pong")


async def opened(chat):
    """An operator and a visitor whose first message opened a ticket: (viewer, visitor, ticket id)."""
    await chat.server.add_operator("anna", queues=("general",))
    _, viewer = await log_in(chat.desk, "anna", "password-123")
    visitor = await chat.visitor()
    ack = await visitor.say("q1", "Is the Fjord sofa available in grey?")
    await visitor.message(lambda f: f["message_id"] == ack["message_id"])
    async with chat.desk.sessions() as s:
        ticket = (await s.execute(select(Ticket.id).where(Ticket.number == ack["ticket"]))).scalar_one()
    return viewer, visitor, ticket


async def push_directly(chat, visitor, message_id: int, text: str) -> None:
    """The reply reaches the socket ahead of its own outbox row, as another process's outbox would send it."""
    await chat.server.app[ADAPTERS]["webchat"].send(OutboundMessage(
        channel="webchat", chat_id=visitor_key(visitor.token), text=text, message_id=message_id,
        ticket_public_id="", author_name="Anna"))
    assert (await visitor.message())["message_id"] == message_id


async def test_a_held_reply_is_not_delivered_by_a_seen_of_a_newer_one_until_it_is_pushed_and_seen(chat):
    viewer, visitor, ticket = await opened(chat)
    held = HeldDelivery(chat.server.app[ADAPTERS]["webchat"], "Yes, in grey.")
    a = await reply_to_ticket(chat.desk, viewer, ticket, "Yes, in grey.")
    b = await reply_to_ticket(chat.desk, viewer, ticket, "It ships in 3 days.")
    assert a < b
    await push_directly(chat, visitor, b, "It ships in 3 days.")

    b_delivered = delivered(chat.desk, b, "delivered")
    await seen(visitor, b)
    await b_delivered
    assert await status(chat.desk, a) == "queued"  # its delivery is still held: never shown

    await held.release()
    late = await visitor.message()
    assert late["message_id"] == a and late["text"] == "Yes, in grey."
    a_delivered = delivered(chat.desk, a, "delivered")
    await seen(visitor, b)  # the widget reports again, with the same up_to, after showing a late reply
    await a_delivered
    assert await status(chat.desk, a) == "delivered"


async def test_only_the_replies_this_socket_carried_are_marked(chat):
    viewer, visitor, ticket = await opened(chat)
    await chat.server.app[WORKER].stop()  # no outbox: a reply reaches the socket only when pushed here
    waiting = await reply_to_ticket(chat.desk, viewer, ticket, "Yes, in grey.")
    carried = await reply_to_ticket(chat.desk, viewer, ticket, "It ships in 3 days.")
    assert waiting < carried
    await push_directly(chat, visitor, carried, "It ships in 3 days.")

    await seen(visitor, carried + 1000)
    assert await status(chat.desk, carried) == "delivered"
    assert await status(chat.desk, waiting) == "queued"

    await seen(visitor, carried + 1000)  # again: nothing new was carried, nothing changes
    assert await status(chat.desk, waiting) == "queued"


async def test_a_seen_covers_only_ids_at_or_below_up_to(chat):
    viewer, visitor, ticket = await opened(chat)
    await chat.server.app[WORKER].stop()
    first = await reply_to_ticket(chat.desk, viewer, ticket, "Yes, in grey.")
    second = await reply_to_ticket(chat.desk, viewer, ticket, "It ships in 3 days.")
    await push_directly(chat, visitor, first, "Yes, in grey.")
    await push_directly(chat, visitor, second, "It ships in 3 days.")

    await seen(visitor, first)
    assert (await status(chat.desk, first), await status(chat.desk, second)) == ("delivered", "queued")
    await seen(visitor, second)
    assert await status(chat.desk, second) == "delivered"


async def test_a_reply_shown_before_a_reconnect_is_marked_through_the_next_socket(chat):
    """The tab was hidden when the socket dropped: the widget lists what it shows in hello and
    reports seen on the new socket."""
    viewer, visitor, ticket = await opened(chat)
    await chat.server.app[WORKER].stop()
    shown = await reply_to_ticket(chat.desk, viewer, ticket, "Yes, in grey.")
    await push_directly(chat, visitor, shown, "Yes, in grey.")
    await visitor.ws.close()

    back = await chat.visitor(token=visitor.token, last_seen=shown, have=[shown])
    assert shown not in [f["message_id"] for f in back.history]  # the widget has it: not carried again
    await seen(back, shown)
    assert await status(chat.desk, shown) == "delivered"


async def test_a_visitor_cannot_mark_another_chats_reply(chat):
    viewer, visitor, ticket = await opened(chat)
    await chat.server.app[WORKER].stop()
    reply = await reply_to_ticket(chat.desk, viewer, ticket, "Yes, in grey.")
    stranger = await chat.visitor(have=[reply])
    await seen(stranger, reply)
    assert await status(chat.desk, reply) == "queued"
