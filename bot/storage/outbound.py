"""What the delivery worker hands to channel adapters: stored outbound messages, read a batch at a time.

Channels that thread (email In-Reply-To and References) answer the client's latest real message
(not an auto-reply) and name the thread's first message and the latest ones; the thread is read
once per ticket for the whole batch.
"""
from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.domain import Attachment, AuthorKind, OutboundMessage
from bot.storage.models import Message, Queue, Ticket

THREAD_REFERENCES = 20
THREADED_AUTHORS = ("client", "bot", "operator")


async def outbound_messages(session, message_ids) -> dict[int, OutboundMessage]:
    """Message id -> what to send, for the stored outbound messages among ``message_ids``."""
    ids = sorted(set(message_ids))
    if not ids:
        return {}
    messages = list((await session.execute(
        select(Message).options(selectinload(Message.attachments), selectinload(Message.operator))
        .where(Message.id.in_(ids)))).scalars())
    ticket_ids = {m.ticket_id for m in messages}
    tickets = {t.id: t for t in (await session.execute(select(Ticket).where(Ticket.id.in_(ticket_ids)))).scalars()}
    queue_ids = {t.queue_id for t in tickets.values() if t.queue_id is not None}
    queues = {q.id: q for q in (await session.execute(select(Queue).where(Queue.id.in_(queue_ids)))).scalars()}
    earlier = await _threads(session, ticket_ids, ids[-1])
    found = {}
    for m in messages:
        ticket = tickets[m.ticket_id]
        queue = queues.get(ticket.queue_id)
        reply_to, references = _thread_before(earlier.get(m.ticket_id, ()), m.id)
        found[m.id] = OutboundMessage(
            channel=m.channel, chat_id=ticket.chat_id, text=m.text, message_id=m.id, ticket_public_id=ticket.public_id,
            author_kind=AuthorKind(m.author_kind), author_name=m.operator.display_name if m.operator else "",
            attachments=tuple(Attachment(a.filename, a.content_type, a.size, storage_key=a.storage_key, id=a.id)
                              for a in m.attachments),
            choices=tuple(m.choices or ()), created_at=m.created_at,
            reply_to=reply_to, references=references, subject=ticket.subject, ticket_number=ticket.number,
            sender_name=(queue.title or queue.name) if queue else "")
    return found


def thread_continued(message: OutboundMessage, earlier: OutboundMessage, platform_id: str) -> OutboundMessage:
    """``message`` once ``earlier`` (same ticket, sent just before in this batch) has its platform id."""
    if not platform_id or earlier.ticket_public_id != message.ticket_public_id:
        return message
    if earlier.author_kind.value not in THREADED_AUTHORS:
        return message
    ids = [*message.references, platform_id]
    if len(ids) > THREAD_REFERENCES:
        ids = ids[:1] + ids[-(THREAD_REFERENCES - 1):]
    return replace(message, references=tuple(dict.fromkeys(ids)))


async def _threads(session, ticket_ids, below: int) -> dict[int, list[tuple]]:
    """Ticket id -> (id, platform id, direction, author kind, automated) of its messages with a platform id."""
    rows = await session.execute(
        select(Message.ticket_id, Message.id, Message.external_id, Message.direction, Message.author_kind,
               Message.automated)
        .where(Message.ticket_id.in_(ticket_ids), Message.id < below, Message.external_id.is_not(None))
        .order_by(Message.id))
    threads: dict[int, list[tuple]] = {}
    for ticket_id, *row in rows:
        threads.setdefault(ticket_id, []).append(tuple(row))
    return threads


def _thread_before(rows, message_id: int) -> tuple[str, tuple[str, ...]]:
    """The client's latest real message before ``message_id`` and the ids the reply names (first + latest)."""
    ids, reply_to = [], ""
    for row_id, external_id, direction, author_kind, automated in rows:
        if row_id >= message_id:
            break
        platform_id = external_id.removeprefix("out:") if direction == "out" else external_id
        if author_kind in THREADED_AUTHORS:
            ids.append(platform_id)
        if direction == "in" and author_kind == "client" and not automated:
            reply_to = platform_id
    if len(ids) > THREAD_REFERENCES:
        ids = ids[:1] + ids[-(THREAD_REFERENCES - 1):]
    return reply_to, tuple(dict.fromkeys(ids))
