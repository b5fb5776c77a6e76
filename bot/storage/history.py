"""A client's message history as plain rows, for the ticket page.

ORM objects cost the page more than the read itself: 200 messages with their attachments and
authors through `selectinload` took about 12 ms of CPU, mostly building instances nobody writes
to. These are named tuples with the attribute names `bot.console.present.message_fields` reads
(a Core row's attribute read costs about 0.2 us, ten times a tuple's, and a page reads 3,000),
their attachments joined in the same statement (one round trip).
"""
from __future__ import annotations

from collections import namedtuple
from functools import lru_cache

from sqlalchemy import bindparam, func, select

from bot.storage.models import Message, Operator, StoredAttachment, Ticket


@lru_cache(maxsize=1)
def _history_query():
    # The newest `limit` ids first, from the messages' ticket index alone (integers), then only those rows:
    # sorting every message with its text to keep 200 of a 1,000-message ticket cost more than the rest.
    # The cut bounds the messages read, so joining their attachments (a row each) needs no LIMIT.
    cut = (select(Message.id).join(Ticket, Ticket.id == Message.ticket_id)
           .where(Ticket.client_id == bindparam("client_id")).order_by(Message.id.desc())
           .offset(bindparam("before")).limit(1).scalar_subquery())
    query = (select(Message.id, Message.ticket_id, Message.channel, Message.direction, Message.author_kind,
                    Message.text, Message.created_at, Message.delivery_status, Message.delivery_error,
                    Message.folded_text, Message.automated, Message.raw_key, Message.html_key, Message.edited_at,
                    Operator.display_name.label("operator_name"), StoredAttachment.id.label("file_id"),
                    StoredAttachment.filename, StoredAttachment.size)
             .join(Ticket, Ticket.id == Message.ticket_id).outerjoin(Operator, Operator.id == Message.operator_id)
             .outerjoin(StoredAttachment, StoredAttachment.message_id == Message.id)
             .where(Ticket.client_id == bindparam("client_id"), Message.id >= func.coalesce(cut, 0))
             .order_by(Message.id, StoredAttachment.id))
    return query, namedtuple("HistoryRow", [c.key for c in query.selected_columns])


async def client_history_rows(session, client_id: int, limit: int = 2000) -> tuple[list, dict[int, list[tuple]]]:
    """The client's newest `limit` messages across their tickets, oldest first, and each message's
    attachments as (id, filename, size) by message id."""
    rows, files = [], {}
    query, row_type = _history_query()
    for row in map(row_type._make, await session.execute(query, {"client_id": client_id, "before": limit - 1})):
        if not rows or rows[-1].id != row.id:
            rows.append(row)
        if row.file_id is not None:
            files.setdefault(row.id, []).append((row.file_id, row.filename, row.size))
    return rows, files
