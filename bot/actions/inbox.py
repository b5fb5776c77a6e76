"""The one inbound entry point every channel uses: store a client message exactly once."""
from __future__ import annotations

import logging
import secrets

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.actions.context import Desk, Unit, unit_of_work
from bot.actions.surveys import survey_reply_for, take_survey_reply
from bot.actions.threads import place_message
from bot.domain import AuthorKind, DeliveryStatus, Direction, InboundMessage, Receipt, TicketStatus
from bot.events import MessageEdited, MessageReceived
from bot.storage.models import (
    AuditEvent, ChannelIdentity, Client, Counter, Message, Queue, StoredAttachment, Ticket, utcnow,
)

logger = logging.getLogger(__name__)

MAX_TEXT = 100_000
MAX_ORIGINAL_BYTES = 64 * 1024 * 1024  # an original as received (an .eml): the channel has bounded it already


async def receive_message(desk: Desk, msg: InboundMessage) -> Receipt:
    """De-duplicate, resolve the client, find or open the ticket, store the message: one commit.

    Returns the receipt of the stored message; a repeated (channel, message id) returns the
    first receipt with ``duplicate=True`` and changes nothing. Adapters acknowledge the source
    only after this returns.
    """
    keys = [desk.files.save(a.data) for a in msg.attachments if a.data is not None]
    originals = (desk.files.save(msg.raw, max_bytes=MAX_ORIGINAL_BYTES) if msg.raw else "",
                 desk.files.save(msg.html.encode("utf-8"), max_bytes=MAX_ORIGINAL_BYTES) if msg.html else "")
    for attempt in range(3):
        try:
            async with unit_of_work(desk) as unit:
                return await _receive(desk, unit, msg, keys, originals)
        except IntegrityError:
            # A concurrent receive of the same message (or the same new identity) won the race;
            # the next attempt finds its rows.
            logger.info("receive race on %s/%s, retrying", msg.channel, msg.message_id)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _receive(desk: Desk, unit: Unit, msg: InboundMessage, keys: list[str],
                   originals: tuple[str, str] = ("", "")) -> Receipt:
    s = unit.session
    existing = (await s.execute(
        select(Message, Ticket.public_id, Ticket.number)
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(Message.channel == msg.channel, Message.external_id == msg.message_id)
    )).first()
    if existing:
        stored, public_id, number = existing
        if msg.edited and stored.text != msg.text[:MAX_TEXT]:
            return _apply_edit(unit, stored, msg, public_id, number)
        return Receipt(stored.id, stored.ticket_id, public_id, number, duplicate=True)

    identity = await _identity(s, msg)
    # A survey answer (or its comment) joins the resolved ticket it answers without reopening it.
    survey_reply = await survey_reply_for(s, identity.client_id, msg) if desk.settings.feedback.survey.enabled else None
    if survey_reply is not None:
        ticket, new_ticket = survey_reply.ticket, False
    else:
        ticket, new_ticket = await _ticket_for(desk, s, identity, msg)
    now = utcnow()
    message = Message(
        ticket_id=ticket.id, channel=msg.channel, direction=Direction.INBOUND.value,
        author_kind=AuthorKind.CLIENT.value, text=msg.text[:MAX_TEXT], external_id=msg.message_id,
        delivery_status=DeliveryStatus.RECEIVED.value, created_at=now,
        raw_key=originals[0], html_key=originals[1], folded_text=msg.folded_text[:MAX_TEXT], automated=msg.automated,
    )
    s.add(message)
    await s.flush()
    with_data = [a for a in msg.attachments if a.data is not None]
    for attachment, key in zip(with_data, keys):
        s.add(StoredAttachment(message_id=message.id, filename=attachment.filename,
                               content_type=attachment.content_type, size=len(attachment.data), storage_key=key))
    ticket.last_message_at = now
    ticket.updated_at = now
    if not ticket.language and msg.locale_hint:
        ticket.language = msg.locale_hint[:8]
    s.add(AuditEvent(kind="message_received", ticket_id=ticket.id, data={"message_id": message.id, "channel": msg.channel}))
    if survey_reply is not None:
        await take_survey_reply(unit, desk.settings, survey_reply)
    unit.events.append(MessageReceived(ticket_id=ticket.id, message_id=message.id, new_ticket=new_ticket,
                                       automated=msg.automated))
    return Receipt(message.id, ticket.id, ticket.public_id, ticket.number, new_ticket=new_ticket)


def _apply_edit(unit: Unit, stored: Message, msg: InboundMessage, public_id: str, number: int) -> Receipt:
    """The client edited a message: the stored text shows the edit; the previous text stays in the audit."""
    unit.session.add(AuditEvent(kind="message_edited", ticket_id=stored.ticket_id,
                                data={"message_id": stored.id, "previous_text": stored.text}))
    stored.text = msg.text[:MAX_TEXT]
    stored.edited_at = utcnow()
    unit.events.append(MessageEdited(ticket_id=stored.ticket_id, message_id=stored.id))
    return Receipt(stored.id, stored.ticket_id, public_id, number, edited=True)


async def _identity(s, msg: InboundMessage) -> ChannelIdentity:
    identity = (await s.execute(
        select(ChannelIdentity).where(ChannelIdentity.channel == msg.channel, ChannelIdentity.external_id == msg.user_id)
    )).scalar_one_or_none()
    if identity is None:
        client = Client(display_name=msg.user_name[:200], language=msg.locale_hint[:8])
        s.add(client)
        await s.flush()
        identity = ChannelIdentity(client_id=client.id, channel=msg.channel, external_id=msg.user_id,
                                   display_name=msg.user_name[:200], claimed_email=msg.claimed_email[:320])
        s.add(identity)
        await s.flush()
        return identity
    # A name or email the client typed is a claim about this identity only: it never links
    # this identity to another client's history.
    if msg.user_name and msg.user_name[:200] != identity.display_name:
        identity.display_name = msg.user_name[:200]
    if msg.claimed_email and msg.claimed_email[:320] != identity.claimed_email:
        identity.claimed_email = msg.claimed_email[:320]
    return identity


async def _ticket_for(desk: Desk, s, identity: ChannelIdentity, msg: InboundMessage) -> tuple[Ticket, bool]:
    # Threading (which ticket a message joins, reopens or continues) lives in bot/actions/threads.py.
    placement = await place_message(desk, s, identity.client_id, msg)
    if placement.ticket is not None:
        return placement.ticket, False
    number = (await s.execute(
        update(Counter).where(Counter.name == "ticket_number").values(value=Counter.value + 1).returning(Counter.value)
    )).scalar_one()
    queue_id = await _queue_id(desk, s, msg.queue_hint)
    ticket = Ticket(
        number=number, public_id=secrets.token_urlsafe(18), client_id=identity.client_id, channel=msg.channel,
        chat_id=msg.chat_id, status=TicketStatus.NEW.value, queue_id=queue_id, language=msg.locale_hint[:8],
        subject=_subject(msg.subject or msg.text), source=msg.source[:200],
        previous_ticket_id=placement.previous.id if placement.previous else None,
        mentioned_ticket_id=placement.mentioned.id if placement.mentioned else None,
    )
    s.add(ticket)
    await s.flush()
    opened = {"channel": msg.channel, "number": number}
    if placement.previous is not None:
        opened["previous_number"] = placement.previous.number
    if placement.mentioned is not None:
        opened["mentioned_number"] = placement.mentioned.number
    s.add(AuditEvent(kind="ticket_opened", ticket_id=ticket.id, data=opened))
    return ticket, True


async def _queue_id(desk: Desk, s, hint: str) -> int:
    """The queue a new ticket starts in: the channel's hint when it names a queue, else the default queue."""
    if hint:
        queue_id = (await s.execute(select(Queue.id).where(Queue.name == hint))).scalar_one_or_none()
        if queue_id is not None:
            return queue_id
    return (await s.execute(select(Queue.id).where(Queue.name == desk.settings.desk.default_queue))).scalar_one()


def _subject(text: str) -> str:
    first = " ".join(text.split())
    return first[:117] + "..." if len(first) > 120 else first
