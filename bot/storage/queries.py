"""Read queries for the console, the API, the web chat and the workers (outbound payloads: bot/storage/outbound.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, or_, select, text
from sqlalchemy.orm import aliased, selectinload

from bot.access import Viewer
from bot.domain import Attachment, AuthorKind, ConversationEntry, Direction
from bot.storage.models import (
    ChannelState, Client, Message, Note, Operator, OutboxItem, Queue, StoredAttachment, Ticket, operator_queues,
)

OPEN_STATUSES = ("new", "open", "waiting")


@dataclass(frozen=True)
class TicketRow:
    id: int
    number: int
    public_id: str
    subject: str
    status: str
    priority: str
    language: str
    channel: str
    queue: str
    queue_id: int
    assignee: str | None
    assignee_id: int | None
    client_id: int
    client_name: str
    created_at: datetime
    last_message_at: datetime
    assignee_username: str | None = None


def in_sight(viewer: Viewer, queue_column=Ticket.queue_id, person_column=Ticket.assignee_id, *,
             sees_all: bool | None = None):
    """Rows of the viewer's queues or their own (``person_column``); everything for admins, or for
    whom ``sees_all`` says (the feedback pages let managers read the whole desk)."""
    if viewer.sees_everything if sees_all is None else sees_all:
        return True
    mine = queue_column.in_(viewer.queue_ids or {-1})
    return mine if person_column is None else or_(mine, person_column == viewer.id)


def _visible(viewer: Viewer):
    return in_sight(viewer)


# Made once: a fresh aliased() per call rebuilt its columns on every request.
_ASSIGNEE = aliased(Operator, name="assignee")


def _ticket_rows_query():
    assignee = _ASSIGNEE
    return select(
        Ticket.id, Ticket.number, Ticket.public_id, Ticket.subject, Ticket.status, Ticket.priority, Ticket.language,
        Ticket.channel, Queue.name, Ticket.queue_id, assignee.display_name, Ticket.assignee_id, Ticket.client_id,
        Client.display_name, Ticket.created_at, Ticket.last_message_at, assignee.username,
    ).join(Queue, Queue.id == Ticket.queue_id).join(Client, Client.id == Ticket.client_id).outerjoin(
        assignee, assignee.id == Ticket.assignee_id)


async def list_tickets(session, viewer: Viewer, *, status: str | None = None, queue: str | None = None,
                       assignee: str | None = None, mine_or_unassigned: bool = False,
                       limit: int = 200, before_id: int | None = None, newest_first: bool = False,
                       before_number: int | None = None) -> list[TicketRow]:
    """Tickets the viewer may see, newest activity first (or newest ticket first), filtered as asked.

    ``newest_first`` orders by ticket number, which never changes, so ``before_number`` pages
    through the list without skipping or repeating a ticket (the API's cursor).
    """
    query = _ticket_rows_query().where(_visible(viewer))
    if status == "active":
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    elif status:
        query = query.where(Ticket.status == status)
    if queue:
        query = query.where(Queue.name == queue)
    if assignee == "none":
        query = query.where(Ticket.assignee_id.is_(None))
    elif assignee:
        query = query.where(Ticket.assignee_id == select(Operator.id).where(Operator.username == assignee).scalar_subquery())
    if mine_or_unassigned:
        query = query.where(or_(Ticket.assignee_id == viewer.id,
                                Ticket.assignee_id.is_(None) & Ticket.queue_id.in_(viewer.queue_ids or {-1})))
    if before_id:
        query = query.where(Ticket.id < before_id)
    if before_number is not None:
        query = query.where(Ticket.number < before_number)
    order = (Ticket.number.desc(),) if newest_first else (Ticket.last_message_at.desc(), Ticket.id.desc())
    rows = await session.execute(query.order_by(*order).limit(limit))
    return [TicketRow(*r) for r in rows]


async def ticket_row(session, viewer: Viewer, ticket_id: int) -> TicketRow | None:
    row = (await session.execute(_ticket_rows_query().where(Ticket.id == ticket_id))).first()
    if row is None:
        return None
    ticket = TicketRow(*row)
    return ticket if viewer.can_see_ticket(ticket.queue_id, ticket.assignee_id) else None


async def ticket_row_by_number(session, number: int) -> TicketRow | None:
    """A ticket by its human number, unfiltered: the caller applies Viewer.can_see_ticket."""
    row = (await session.execute(_ticket_rows_query().where(Ticket.number == number))).first()
    return TicketRow(*row) if row else None


async def queue_counts(session, viewer: Viewer) -> dict[str, int]:
    """Active tickets per queue the viewer works in (every queue for admins)."""
    query = select(Queue.name, func.count(Ticket.id)).outerjoin(
        Ticket, (Ticket.queue_id == Queue.id) & Ticket.status.in_(OPEN_STATUSES)).group_by(Queue.name).order_by(Queue.name)
    if not viewer.sees_everything:
        query = query.where(Queue.id.in_(viewer.queue_ids or {-1}))
    return {name: count for name, count in await session.execute(query)}


async def ticket_messages(session, ticket_id: int, after_id: int = 0, limit: int = 1000) -> list[Message]:
    rows = await session.execute(
        select(Message).options(selectinload(Message.attachments), selectinload(Message.operator))
        .where(Message.ticket_id == ticket_id, Message.id > after_id).order_by(Message.id).limit(limit))
    return list(rows.scalars())


async def client_tickets(session, client_id: int) -> list[tuple[int, int, str, str]]:
    rows = await session.execute(select(Ticket.id, Ticket.number, Ticket.status, Ticket.channel)
                                 .where(Ticket.client_id == client_id).order_by(Ticket.id.desc()))
    return [tuple(r) for r in rows]


async def ticket_notes(session, ticket_id: int) -> list[Note]:
    rows = await session.execute(select(Note).options(selectinload(Note.operator))
                                 .where(Note.ticket_id == ticket_id).order_by(Note.id))
    return list(rows.scalars())


async def operators_for_transfer(session) -> list[tuple[str, str, list[str]]]:
    """(username, display name, queue names) of active operators."""
    ops = (await session.execute(select(Operator).options(selectinload(Operator.queues))
                                 .where(Operator.active.is_(True)).order_by(Operator.username))).scalars()
    return [(o.username, o.display_name, sorted(q.name for q in o.queues)) for o in ops]


async def all_operators(session) -> list[Operator]:
    return list((await session.execute(select(Operator).options(selectinload(Operator.queues)).order_by(Operator.username))).scalars())


async def queue_names(session) -> list[str]:
    return list((await session.execute(select(Queue.name).order_by(Queue.name))).scalars())


async def operator_queue_ids(session, operator_id: int) -> frozenset[int]:
    rows = await session.execute(select(operator_queues.c.queue_id).where(operator_queues.c.operator_id == operator_id))
    return frozenset(r[0] for r in rows)


async def attachment_for_viewer(session, viewer: Viewer, attachment_id: int) -> StoredAttachment | None:
    row = (await session.execute(
        select(StoredAttachment, Ticket.queue_id, Ticket.assignee_id)
        .join(Message, Message.id == StoredAttachment.message_id).join(Ticket, Ticket.id == Message.ticket_id)
        .where(StoredAttachment.id == attachment_id))).first()
    if row is None or not viewer.can_see_ticket(row[1], row[2]):
        return None
    return row[0]


async def attachment_for_chat(session, channel: str, chat_id: str, attachment_id: int) -> StoredAttachment | None:
    """An attachment of the given client chat (the web chat visitor's own conversation only)."""
    return (await session.execute(
        select(StoredAttachment).join(Message, Message.id == StoredAttachment.message_id)
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(StoredAttachment.id == attachment_id, Ticket.channel == channel, Ticket.chat_id == chat_id))).scalar_one_or_none()


async def conversation(session, channel: str, chat_id: str, after_id: int = 0, limit: int = 500) -> list[ConversationEntry]:
    """The client-visible messages of one chat on one channel, after a message id, oldest first."""
    return (await conversations(session, channel, {chat_id: after_id}, limit)).get(chat_id, [])


# The columns a conversation entry needs, read as plain rows: ORM messages with their attachments and
# authors loaded cost more than the read itself for every web chat follow-up.
_ENTRY_COLUMNS = select(Message.id, Message.direction, Message.author_kind, Operator.display_name, Message.text,
                        Message.created_at, Message.external_id, Message.choices, Ticket.chat_id) \
    .join(Ticket, Ticket.id == Message.ticket_id).outerjoin(Operator, Operator.id == Message.operator_id)
_SHARED_CONVERSATIONS = _ENTRY_COLUMNS.where(
    Ticket.channel == bindparam("channel"), Ticket.chat_id.in_(bindparam("chats", expanding=True)),
    Message.id > bindparam("floor")).order_by(Message.id).limit(bindparam("limit"))
_ATTACHMENTS_OF = select(StoredAttachment.message_id, StoredAttachment.filename, StoredAttachment.content_type,
                         StoredAttachment.size, StoredAttachment.storage_key, StoredAttachment.id) \
    .where(StoredAttachment.message_id.in_(bindparam("ids", expanding=True))).order_by(StoredAttachment.id)


async def conversations(session, channel: str, after: dict[str, int], limit: int = 500) -> dict[str, list[ConversationEntry]]:
    """`conversation` of several chats at once, each after its own id, oldest first.

    One statement of one shape (an IN list after the lowest id, the rest sorted out here), built
    once: an OR of one term per chat cost more than the read. At most ``limit`` rows are read; a
    chat cut short gets its messages from its id without a gap up to the cut. Callers keep the ids
    close (a chat far behind the others reads on its own).
    """
    if not after:
        return {}
    rows = [r for r in await session.execute(_SHARED_CONVERSATIONS, {
        "channel": channel, "chats": list(after), "floor": min(after.values()), "limit": limit}) if r[0] > after[r[8]]]
    files: dict[int, list[Attachment]] = {}
    if rows:
        for message_id, *fields, attachment_id in await session.execute(_ATTACHMENTS_OF, {"ids": [r[0] for r in rows]}):
            files.setdefault(message_id, []).append(Attachment(*fields[:3], storage_key=fields[3], id=attachment_id))
    found: dict[str, list[ConversationEntry]] = {}
    for id_, direction, author_kind, author_name, text_, created_at, external_id, choices, chat_id in rows:
        found.setdefault(chat_id, []).append(ConversationEntry(
            id=id_, direction=Direction(direction), author_kind=AuthorKind(author_kind), author_name=author_name or "",
            text=text_, created_at=created_at, external_id=external_id or "", attachments=tuple(files.get(id_, ())),
            choices=tuple(choices or ())))
    return found


async def message_for_viewer(session, viewer: Viewer, message_id: int) -> tuple[Message, int] | None:
    """A message and its ticket's number, when the viewer may see the ticket."""
    row = (await session.execute(
        select(Message, Ticket.number, Ticket.queue_id, Ticket.assignee_id).options(selectinload(Message.attachments))
        .join(Ticket, Ticket.id == Message.ticket_id).where(Message.id == message_id))).first()
    if row is None or not viewer.can_see_ticket(row[2], row[3]):
        return None
    return row[0], row[1]


async def channel_state(session, channel: str, key: str) -> dict | None:
    """A channel's stored state value (an IMAP cursor), or None before the first write."""
    row = await session.get(ChannelState, (channel, key))
    return dict(row.value) if row is not None else None


async def ping(session) -> None:
    """A round trip to the database (liveness): raises when it cannot answer."""
    await session.execute(text("SELECT 1"))


async def outbox_backlog(session) -> int:
    return (await session.execute(select(func.count()).select_from(OutboxItem)
                                  .where(OutboxItem.status.in_(("pending", "sending"))))).scalar_one()


async def open_tickets_per_queue(session) -> dict[str, int]:
    rows = await session.execute(select(Queue.name, func.count(Ticket.id)).outerjoin(
        Ticket, (Ticket.queue_id == Queue.id) & Ticket.status.in_(OPEN_STATUSES)).group_by(Queue.name))
    return dict(rows.all())


async def latest_ticket_id(session, channel: str, chat_id: str) -> int | None:
    return (await session.execute(select(Ticket.id).where(Ticket.channel == channel, Ticket.chat_id == chat_id)
                                  .order_by(Ticket.id.desc()).limit(1))).scalar_one_or_none()


async def message_counts(session) -> dict[tuple[str, str], int]:
    """Stored messages per (channel, direction); outbound counts only those sent or delivered."""
    rows = await session.execute(
        select(Message.channel, Message.direction, func.count())
        .where(or_(Message.direction == "in", Message.delivery_status.in_(("sent", "delivered"))))
        .group_by(Message.channel, Message.direction))
    return {(channel, direction): count for channel, direction, count in rows}


# --- console: live pushes and the ticket page ---

async def ticket_row_by_id(session, ticket_id: int) -> TicketRow | None:
    """A ticket row by id, unfiltered: for listeners that check each recipient's visibility themselves."""
    row = (await session.execute(_ticket_rows_query().where(Ticket.id == ticket_id))).first()
    return TicketRow(*row) if row else None


_TICKET_ROWS_BY_IDS = _ticket_rows_query().where(Ticket.id.in_(bindparam("ids", expanding=True)))


async def ticket_rows_by_ids(session, ticket_ids) -> dict[int, TicketRow]:
    """Several ticket rows by id in one query, unfiltered (the live hub reads a batch of events at once)."""
    if not ticket_ids:
        return {}
    rows = await session.execute(_TICKET_ROWS_BY_IDS, {"ids": list(ticket_ids)})
    return {r.id: r for r in (TicketRow(*row) for row in rows)}


async def message_with_attachments(session, message_id: int) -> Message | None:
    return (await session.execute(
        select(Message).options(selectinload(Message.attachments), selectinload(Message.operator))
        .where(Message.id == message_id))).scalar_one_or_none()


async def messages_with_attachments(session, message_ids) -> dict[int, Message]:
    if not message_ids:
        return {}
    rows = await session.execute(
        select(Message).options(selectinload(Message.attachments), selectinload(Message.operator))
        .where(Message.id.in_(list(message_ids))))
    return {m.id: m for m in rows.scalars()}


async def note_by_id(session, note_id: int) -> Note | None:
    return (await session.execute(select(Note).options(selectinload(Note.operator))
                                  .where(Note.id == note_id))).scalar_one_or_none()


async def ticket_access_by_numbers(session, numbers: list[int]) -> list[tuple[int, int, int, int | None]]:
    """(id, number, queue id, assignee id) of the given ticket numbers, unfiltered."""
    if not numbers:
        return []
    rows = await session.execute(select(Ticket.id, Ticket.number, Ticket.queue_id, Ticket.assignee_id)
                                 .where(Ticket.number.in_(numbers)))
    return [tuple(r) for r in rows]


async def operator_workload(session) -> list[tuple[Operator, int]]:
    """Every operator with their queues and how many active tickets are assigned to them."""
    counts = dict((await session.execute(
        select(Ticket.assignee_id, func.count(Ticket.id))
        .where(Ticket.assignee_id.is_not(None), Ticket.status.in_(OPEN_STATUSES)).group_by(Ticket.assignee_id))).all())
    return [(o, counts.get(o.id, 0)) for o in await all_operators(session)]


async def delivery_states(session, ticket_id: int, limit: int = 200) -> list[tuple[int, str, str]]:
    """(message id, delivery status, error) of a ticket's latest outbound messages."""
    rows = await session.execute(select(Message.id, Message.delivery_status, Message.delivery_error)
                                 .where(Message.ticket_id == ticket_id, Message.direction == "out")
                                 .order_by(Message.id.desc()).limit(limit))
    return [tuple(r) for r in rows]


async def tickets_changed_since(session, viewer: Viewer, since: datetime, limit: int = 200) -> list[TicketRow]:
    """Tickets the viewer may see that changed at or after a moment (a reconnecting list catches up)."""
    rows = await session.execute(_ticket_rows_query().where(_visible(viewer), Ticket.updated_at >= since)
                                 .order_by(Ticket.updated_at.desc()).limit(limit))
    return [TicketRow(*r) for r in rows]


async def next_offer_expiry(session) -> datetime | None:
    """When the earliest pending offer to an operator runs out (None: no offer waits)."""
    return (await session.execute(select(func.min(Ticket.offer_expires_at))
                                  .where(Ticket.offered_to_id.is_not(None)))).scalar_one()
