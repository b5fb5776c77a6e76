"""Operator actions on a ticket: reply, note, take, transfer, resolve, reopen."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.access import Viewer
from bot.actions.context import Desk, Unit, unit_of_work
from bot.domain import Attachment, AuthorKind, DeliveryStatus, Direction, TicketStatus
from bot.errors import Forbidden, InvalidInput, NotFound
from bot.events import MessageQueued, NoteAdded, TicketChanged, TicketResolved
from bot.storage.models import (
    AuditEvent, Message, Note, Operator, OutboxItem, Queue, StoredAttachment, Ticket, utcnow,
)
from bot.texts import N_

MAX_REPLY = 20_000


async def visible_ticket(unit: Unit, viewer: Viewer, ticket_id: int, *, lock: bool = False) -> Ticket:
    query = select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        query = query.with_for_update(key_share=True)
    ticket = (await unit.session.execute(query)).scalar_one_or_none()
    # An invisible ticket is reported as missing, so ids cannot be probed.
    if ticket is None or not viewer.can_see_ticket(ticket.queue_id, ticket.assignee_id):
        raise NotFound(f"ticket {ticket_id} not found")
    return ticket


# Whole sentences per field, so each language can say them its own way.
_EMPTY = {"the reply": N_("the reply is empty"), "the note": N_("the note is empty")}
_TOO_LONG = {"the reply": N_("the reply is {length} characters; the limit is {limit}"),
             "the note": N_("the note is {length} characters; the limit is {limit}")}


def _clean_text(text: str, limit: int, what: str) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise InvalidInput(_EMPTY[what])
    if len(text) > limit:
        raise InvalidInput(_TOO_LONG[what], length=len(text), limit=limit)
    return text


async def queue_outbound(unit: Unit, ticket: Ticket, text: str, author: AuthorKind, operator_id: int | None,
                         attachments: tuple[Attachment, ...] = (), choices: tuple[str, ...] = ()) -> Message:
    """Store an outbound message and its outbox row in the caller's transaction (``choices``: quick replies)."""
    s = unit.session
    now = utcnow()
    message = Message(ticket_id=ticket.id, channel=ticket.channel, direction=Direction.OUTBOUND.value,
                      author_kind=author.value, operator_id=operator_id, text=text,
                      delivery_status=DeliveryStatus.QUEUED.value, created_at=now, choices=list(choices))
    s.add(message)
    await s.flush()
    for a in attachments:
        s.add(StoredAttachment(message_id=message.id, filename=a.filename, content_type=a.content_type,
                               size=a.size, storage_key=a.storage_key))
    s.add(OutboxItem(message_id=message.id, ticket_id=ticket.id, channel=ticket.channel, next_attempt_at=now))
    ticket.last_message_at = now
    ticket.updated_at = now
    unit.events.append(MessageQueued(ticket_id=ticket.id, message_id=message.id))
    return message


async def reply_to_ticket(desk: Desk, viewer: Viewer, ticket_id: int, text: str,
                          attachments: tuple[Attachment, ...] = ()) -> int:
    """Queue an operator's reply for delivery; the ticket waits for the client afterwards."""
    text = _clean_text(text, MAX_REPLY, "the reply")
    stored = tuple(
        Attachment(a.filename, a.content_type, len(a.data), storage_key=desk.files.save(a.data))
        for a in attachments if a.data is not None
    )
    async with unit_of_work(desk) as unit:
        ticket = await visible_ticket(unit, viewer, ticket_id, lock=True)
        if ticket.status == TicketStatus.CLOSED.value:
            raise InvalidInput("ticket #{number} is closed; the client's next message opens a new one", number=ticket.number)
        message = await queue_outbound(unit, ticket, text, AuthorKind.OPERATOR, viewer.id, stored)
        if ticket.assignee_id is None:
            ticket.assignee_id = viewer.id
        if ticket.status in (TicketStatus.NEW.value, TicketStatus.OPEN.value):
            ticket.status = TicketStatus.WAITING.value
        unit.session.add(AuditEvent(kind="replied", ticket_id=ticket.id, operator_id=viewer.id,
                                    data={"message_id": message.id}))
        unit.events.append(TicketChanged(ticket_id=ticket.id, what="replied"))
        return message.id


async def add_note(desk: Desk, viewer: Viewer, ticket_id: int, text: str) -> int:
    """An internal note, for operators only."""
    text = _clean_text(text, MAX_REPLY, "the note")
    async with unit_of_work(desk) as unit:
        ticket = await visible_ticket(unit, viewer, ticket_id)
        note = Note(ticket_id=ticket.id, operator_id=viewer.id, text=text)
        unit.session.add(note)
        await unit.session.flush()
        unit.events.append(NoteAdded(ticket_id=ticket.id, note_id=note.id))
        return note.id


async def _set_status(desk: Desk, viewer: Viewer, ticket_id: int, status: TicketStatus, kind: str) -> None:
    async with unit_of_work(desk) as unit:
        ticket = await visible_ticket(unit, viewer, ticket_id, lock=True)
        if ticket.status == status.value:
            return
        ticket.status = status.value
        ticket.updated_at = utcnow()
        ticket.resolved_at = utcnow() if status is TicketStatus.RESOLVED else None
        unit.session.add(AuditEvent(kind=kind, ticket_id=ticket.id, operator_id=viewer.id))
        unit.events.append(TicketChanged(ticket_id=ticket.id, what=kind))
        if status is TicketStatus.RESOLVED:
            unit.events.append(TicketResolved(ticket_id=ticket.id))


async def resolve_ticket(desk: Desk, viewer: Viewer, ticket_id: int) -> None:
    await _set_status(desk, viewer, ticket_id, TicketStatus.RESOLVED, "resolved")


async def reopen_ticket(desk: Desk, viewer: Viewer, ticket_id: int) -> None:
    await _set_status(desk, viewer, ticket_id, TicketStatus.OPEN, "reopened")


async def take_ticket(desk: Desk, viewer: Viewer, ticket_id: int) -> None:
    """Assign an unassigned ticket to oneself; a ticket someone else holds is not taken over."""
    async with unit_of_work(desk) as unit:
        ticket = await visible_ticket(unit, viewer, ticket_id, lock=True)
        if ticket.assignee_id == viewer.id:
            return
        if ticket.assignee_id is not None and not viewer.can_assign_others():
            raise Forbidden("ticket #{number} is already assigned to another operator", number=ticket.number)
        ticket.assignee_id = viewer.id
        if ticket.status == TicketStatus.NEW.value:
            ticket.status = TicketStatus.OPEN.value
        ticket.updated_at = utcnow()
        unit.session.add(AuditEvent(kind="assigned", ticket_id=ticket.id, operator_id=viewer.id,
                                    data={"assignee_id": viewer.id}))
        unit.events.append(TicketChanged(ticket_id=ticket.id, what="assigned"))


async def transfer_ticket(desk: Desk, viewer: Viewer, ticket_id: int, *, queue: str | None = None,
                          operator: str | None = None, note: str = "") -> None:
    """Move a ticket to another queue and/or operator, with an optional note for the next person."""
    if not queue and not operator:
        raise InvalidInput("name a queue or an operator to transfer to")
    async with unit_of_work(desk) as unit:
        s = unit.session
        ticket = await visible_ticket(unit, viewer, ticket_id, lock=True)
        before = {"queue_id": ticket.queue_id, "assignee_id": ticket.assignee_id}
        if queue:
            target = (await s.execute(select(Queue).where(Queue.name == queue))).scalar_one_or_none()
            if target is None:
                raise InvalidInput("there is no queue {queue!r}", queue=queue)
            ticket.queue_id = target.id
            ticket.assignee_id = None
        if operator:
            target_op = (await s.execute(
                select(Operator).options(selectinload(Operator.queues)).where(Operator.username == operator)
            )).scalar_one_or_none()
            if target_op is None or not target_op.active:
                raise InvalidInput("there is no active operator {operator!r}", operator=operator)
            if target_op.role != "admin" and ticket.queue_id not in {q.id for q in target_op.queues}:
                raise InvalidInput("{operator} does not work in this ticket's queue; transfer the queue too", operator=operator)
            ticket.assignee_id = target_op.id
        ticket.updated_at = utcnow()
        if queue:  # a person chose the queue: the router, if it has not run yet, must not move it back
            ticket.routed_at = ticket.routed_at or ticket.updated_at
        if note.strip():
            s.add(Note(ticket_id=ticket.id, operator_id=viewer.id, text=_clean_text(note, MAX_REPLY, "the note")))
        s.add(AuditEvent(kind="transferred", ticket_id=ticket.id, operator_id=viewer.id,
                         data={**before, "to_queue_id": ticket.queue_id, "to_assignee_id": ticket.assignee_id}))
        unit.events.append(TicketChanged(ticket_id=ticket.id, what="transferred"))

