"""The rows the inbox writes for a message, shared by its one-by-one and its batch path so both store the same."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from bot.actions.context import Desk
from bot.actions.threads import Placement
from bot.domain import AuthorKind, DeliveryStatus, Direction, InboundMessage, TicketStatus
from bot.storage.models import ChannelIdentity, Queue, Ticket

MAX_TEXT = 100_000


@dataclass(frozen=True)
class Job:
    """One message waiting for the inbox's group commit, its files already stored."""

    msg: InboundMessage
    keys: list[str]  # stored attachment files, in the order of the message's attachments with data
    originals: tuple[str, str]  # stored raw original and HTML body, or ""


@dataclass(frozen=True)
class NewTicket:
    """A ticket opened by this message, as far as the rest of the receive needs it."""

    id: int
    public_id: str
    number: int


def client_row(msg: InboundMessage) -> dict:
    """The client a first message from an unknown identity creates."""
    return {"display_name": msg.user_name[:200], "language": msg.locale_hint[:8]}


def identity_row(msg: InboundMessage, client_id: int) -> dict:
    return {"client_id": client_id, "channel": msg.channel, "external_id": msg.user_id,
            "display_name": msg.user_name[:200], "claimed_email": msg.claimed_email[:320]}


def note_claims(identity: ChannelIdentity, msg: InboundMessage) -> None:
    """Keep the name and email the client typed on this identity.

    A name or email the client typed is a claim about this identity only: it never links
    this identity to another client's history.
    """
    if msg.user_name and msg.user_name[:200] != identity.display_name:
        identity.display_name = msg.user_name[:200]
    if msg.claimed_email and msg.claimed_email[:320] != identity.claimed_email:
        identity.claimed_email = msg.claimed_email[:320]


def ticket_row(msg: InboundMessage, client_id: int, number: int, queue_id: int, placement: Placement,
               now: datetime) -> dict:
    """A new ticket opened by this message (with a fresh unguessable public id)."""
    return {"number": number, "public_id": secrets.token_urlsafe(18), "client_id": client_id, "channel": msg.channel,
            "chat_id": msg.chat_id, "status": TicketStatus.NEW.value, "queue_id": queue_id,
            "language": msg.locale_hint[:8], "subject": subject(msg.subject or msg.text), "source": msg.source[:200],
            "previous_ticket_id": placement.previous.id if placement.previous else None,
            "mentioned_ticket_id": placement.mentioned.id if placement.mentioned else None,
            "created_at": now, "updated_at": now, "last_message_at": now}


def opened_audit(ticket_id: int, number: int, msg: InboundMessage, placement: Placement, now: datetime) -> dict:
    opened = {"channel": msg.channel, "number": number}
    if placement.previous is not None:
        opened["previous_number"] = placement.previous.number
    if placement.mentioned is not None:
        opened["mentioned_number"] = placement.mentioned.number
    return {"kind": "ticket_opened", "ticket_id": ticket_id, "at": now, "data": opened}


def message_row(msg: InboundMessage, ticket_id: int, external_id: str, originals: tuple[str, str],
                now: datetime) -> dict:
    return {"ticket_id": ticket_id, "channel": msg.channel, "direction": Direction.INBOUND.value,
            "author_kind": AuthorKind.CLIENT.value, "text": msg.text[:MAX_TEXT], "external_id": external_id,
            "delivery_status": DeliveryStatus.RECEIVED.value, "created_at": now,
            "raw_key": originals[0], "html_key": originals[1], "folded_text": msg.folded_text[:MAX_TEXT],
            "automated": msg.automated}


def attachment_rows(msg: InboundMessage, message_id: int, keys: list[str]) -> list[dict]:
    """The stored attachments of a message: those with data, in order, beside their stored files' keys."""
    with_data = [a for a in msg.attachments if a.data is not None]
    return [{"message_id": message_id, "filename": a.filename, "content_type": a.content_type,
             "size": len(a.data), "storage_key": key} for a, key in zip(with_data, keys)]


def received_audit(ticket_id: int, message_id: int, msg: InboundMessage, now: datetime) -> dict:
    return {"kind": "message_received", "ticket_id": ticket_id, "at": now,
            "data": {"message_id": message_id, "channel": msg.channel}}


_TICKETS = Ticket.__table__
# Built once, run once per batch over its tickets (executemany): the ORM's flush of the same few columns
# cost more than the rest of the ticket's share of a follow-up. A language is set only where none was.
TOUCH = (update(_TICKETS).where(_TICKETS.c.id == bindparam("b_id"))
         .values(last_message_at=bindparam("b_at", type_=_TICKETS.c.last_message_at.type),
                 updated_at=bindparam("b_at", type_=_TICKETS.c.updated_at.type),
                 language=func.coalesce(func.nullif(_TICKETS.c.language, ""), bindparam("b_language"))))


def touch_ticket(ticket, msg: InboundMessage, now: datetime) -> dict | None:
    """An existing ticket the message joined: its activity times, and its language if it had none.

    A stored ticket (an ORM Ticket) gets its new values as already stored, so the session writes
    nothing for them: the caller runs TOUCH with the returned parameters. A ticket this batch opens is
    written later with the values set here (None is returned).
    """
    hint = msg.locale_hint[:8]
    language = ticket.language or hint
    if not isinstance(ticket, Ticket):
        ticket.last_message_at = ticket.updated_at = now
        ticket.language = language
        return None
    for name, value in (("last_message_at", now), ("updated_at", now), ("language", language)):
        set_committed_value(ticket, name, value)
    return {"b_id": ticket.id, "b_at": now, "b_language": language}


async def queue_id(desk: Desk, s, hint: str) -> int:
    """The queue a new ticket starts in: the channel's hint when it names a queue, else the default queue.

    Ids are cached per desk: queues are never dropped nor renamed (bot/actions/setup.py).
    """
    cache = desk.state.setdefault("queue_ids", {})
    if hint and hint not in cache:
        found = (await s.execute(select(Queue.id).where(Queue.name == hint))).scalar_one_or_none()
        if found is not None:
            cache[hint] = found
    if hint in cache:
        return cache[hint]
    default = desk.settings.desk.default_queue
    if default not in cache:
        cache[default] = (await s.execute(select(Queue.id).where(Queue.name == default))).scalar_one()
    return cache[default]


def subject(text: str) -> str:
    first = " ".join(text.split())
    return first[:117] + "..." if len(first) > 120 else first
