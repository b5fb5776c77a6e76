"""Delivery receipts from channels: the client's side has shown our messages."""
from __future__ import annotations

from sqlalchemy import select

from bot.actions.context import Desk, unit_of_work
from bot.events import DeliveryChanged
from bot.storage.models import Message, Ticket


async def mark_delivered(desk: Desk, channel: str, chat_id: str, up_to_message_id: int) -> int:
    """Mark outbound messages of one client chat up to an id as delivered; returns how many changed."""
    async with unit_of_work(desk) as unit:
        rows = list((await unit.session.execute(
            select(Message).join(Ticket, Ticket.id == Message.ticket_id)
            .where(Ticket.channel == channel, Ticket.chat_id == chat_id, Message.direction == "out",
                   Message.id <= up_to_message_id, Message.delivery_status.in_(("queued", "sent")))
        )).scalars())
        for message in rows:
            message.delivery_status = "delivered"
            unit.events.append(DeliveryChanged(ticket_id=message.ticket_id, message_id=message.id, status="delivered"))
        return len(rows)
