"""Reads of a client's conversation that a resume needs beyond ``queries.conversation``."""
from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from bot.actions.context import Desk
from bot.domain import ConversationEntry
from bot.storage.models import Message, Ticket
from bot.storage.queries import conversation


async def late_messages(desk: Desk, channel: str, chat_id: str, up_to_id: int, have: Collection[int],
                        window: int) -> list[ConversationEntry]:
    """Messages of one chat among its newest ``window`` at or below ``up_to_id`` that are not in ``have``,
    oldest first.

    Ids are handed out when a transaction inserts, and transactions commit (and deliveries push) in
    any order: a message can become visible after a newer one was shown. A resume looks here for it.
    """
    async with desk.sessions() as s:
        recent = (await s.execute(
            select(Message.id).join(Ticket, Ticket.id == Message.ticket_id)
            .where(Ticket.channel == channel, Ticket.chat_id == chat_id, Message.id <= up_to_id)
            .order_by(Message.id.desc()).limit(window))).scalars().all()
        missing = set(recent).difference(have)
        if not missing:
            return []
        # From the oldest missing message up to up_to_id every message is in the window: one page holds them.
        entries = await conversation(s, channel, chat_id, min(missing) - 1, limit=window)
    return [entry for entry in entries if entry.id in missing]
