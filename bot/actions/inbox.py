"""The one inbound entry point every channel uses: store a client message exactly once."""
from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.actions.context import Desk, Unit, unit_of_work
from bot.actions.group_commit import GroupCommit
from bot.actions.inbox_batch import receive_batch
from bot.actions.inbox_rows import (
    MAX_TEXT, Job, NewTicket, attachment_rows, client_row, identity_row, message_row, note_claims, opened_audit, queue_id,
    TOUCH, received_audit, ticket_row, touch_ticket,
)
from bot.actions.stored_files import save_files
from bot.actions.surveys import survey_reply_for, take_survey_reply
from bot.actions.threads import place_message
from bot.domain import InboundMessage, Receipt
from bot.events import MessageEdited, MessageReceived
from bot.storage.models import AuditEvent, ChannelIdentity, Client, Counter, Message, StoredAttachment, Ticket, utcnow

logger = logging.getLogger(__name__)

MAX_ORIGINAL_BYTES = 64 * 1024 * 1024  # an original as received (an .eml): the channel has bounded it already


async def receive_message(desk: Desk, msg: InboundMessage) -> Receipt:
    """De-duplicate, resolve the client, find or open the ticket, store the message: one commit.

    Returns the receipt of the stored message; a repeated (channel, message id) returns the
    first receipt with ``duplicate=True`` and changes nothing. Adapters acknowledge the source
    only after this returns. Concurrent calls share a transaction (bot/actions/group_commit.py),
    written set-based (bot/actions/inbox_batch.py); each returns only once the transaction holding
    its message has committed.
    """
    keys, originals = await _save_files(desk, msg) if msg.attachments or msg.raw or msg.html else ([], ("", ""))
    return await _group_commit(desk).submit(Job(msg, keys, originals))


async def _save_files(desk: Desk, msg: InboundMessage) -> tuple[list[str], tuple[str, str]]:
    """The files first, durably, all of a message's at once (an HTML mail: original, HTML copy, attachments)."""
    files = [(a.data, None) for a in msg.attachments if a.data is not None]
    originals = [(msg.raw, MAX_ORIGINAL_BYTES) if msg.raw else None,
                 (msg.html.encode("utf-8"), MAX_ORIGINAL_BYTES) if msg.html else None]
    saved = iter(await save_files(desk, files + [o for o in originals if o is not None]))
    keys = [next(saved) for _ in files]
    raw_key, html_key = (next(saved) if o is not None else "" for o in originals)
    return keys, (raw_key, html_key)


def _group_commit(desk: Desk) -> GroupCommit[Job]:
    group = desk.state.get("inbox")
    if group is None or group.loop is not asyncio.get_running_loop():
        group = desk.state["inbox"] = GroupCommit(
            desk, lambda desk, unit, jobs: receive_batch(desk, unit, jobs, _receive_job),
            lambda job: _receive_alone(desk, job), lambda job: (job.msg.channel, job.msg.message_id))
    return group


async def _receive_job(desk: Desk, unit: Unit, job: Job) -> Receipt:
    """One message in a transaction shared with others: the batch path's way for unusual messages."""
    return await _receive(desk, unit, job.msg, job.keys, job.originals)


async def _receive_alone(desk: Desk, job: Job) -> Receipt:
    """One message in its own transaction (a lone caller, or a batch that failed)."""
    msg = job.msg
    for attempt in range(3):
        try:
            async with unit_of_work(desk) as unit:
                return await _receive(desk, unit, msg, job.keys, job.originals)
        except IntegrityError:
            # A concurrent receive of the same message (or the same new identity) won the race;
            # the next attempt finds its rows.
            logger.info("receive race on %s/%s, retrying", msg.channel, msg.message_id)
            desk.state.pop("queue_ids", None)  # in case the database under the desk was replaced (a restore)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _receive(desk: Desk, unit: Unit, msg: InboundMessage, keys: list[str],
                   originals: tuple[str, str] = ("", "")) -> Receipt:
    s = unit.session
    existing, external_id = await _stored_copy(s, msg)
    if existing:
        stored, public_id, number, _ = existing
        if msg.edited and stored.text != msg.text[:MAX_TEXT]:
            return _apply_edit(unit, stored, msg, public_id, number)
        return Receipt(stored.id, stored.ticket_id, public_id, number, duplicate=True)

    identity, new_client = await _identity(s, msg)
    # A survey answer (or its comment) joins the resolved ticket it answers without reopening it;
    # a client created just now has no tickets, so neither a survey nor a ticket to join.
    survey_reply = None
    if desk.settings.feedback.survey.enabled and not new_client:
        survey_reply = await survey_reply_for(s, identity.client_id, msg)
    now = utcnow()
    audits: list[dict] = []  # written together at the end: one statement
    if survey_reply is not None:
        ticket, new_ticket = survey_reply.ticket, False
    else:
        ticket, new_ticket = await _ticket_for(desk, s, identity, msg, new_client, now, audits)
    # The ticket row before the message: the message's SLA trigger (migration 0012) locks the ticket's
    # SLA row, and every writer locks a ticket before its SLA row, so none waits on another in a cycle.
    touched = None if new_ticket else touch_ticket(ticket, msg, now)  # a new ticket was written with these already
    if touched is not None:
        await s.execute(TOUCH, [touched])
    # Core inserts on the hot path: one statement each, without the ORM's unit-of-work bookkeeping.
    message_id = (await s.execute(insert(Message).values(**message_row(msg, ticket.id, external_id, originals, now))
                                  .returning(Message.id))).scalar_one()
    if keys:
        await s.execute(insert(StoredAttachment), attachment_rows(msg, message_id, keys))
    audits.append(received_audit(ticket.id, message_id, msg, now))
    await s.execute(insert(AuditEvent), audits)
    if survey_reply is not None:
        await take_survey_reply(unit, desk.settings, survey_reply)
    unit.events.append(MessageReceived(ticket_id=ticket.id, message_id=message_id, new_ticket=new_ticket,
                                       automated=msg.automated))
    return Receipt(message_id, ticket.id, ticket.public_id, ticket.number, new_ticket=new_ticket)


async def _stored_copy(s, msg: InboundMessage):
    """The stored message this one repeats, if any, and the external id to store it under otherwise.

    A message id is chosen by whoever sends (an email's Message-ID), so the same id from another
    sender is no copy: a stranger who used the id of someone's future mail must not get that mail
    dropped as a duplicate. The second sender's message goes under an id scoped to them, where a
    repeat of it is found again; the first keeps the plain id that threading looks up.
    """
    scoped = "dup:" + hashlib.sha256(f"{msg.user_id}\0{msg.message_id}".encode("utf-8", "surrogatepass")).hexdigest()
    for external_id in (msg.message_id, scoped):
        row = (await s.execute(
            select(Message, Ticket.public_id, Ticket.number, Ticket.client_id)
            .join(Ticket, Ticket.id == Message.ticket_id)
            .where(Message.channel == msg.channel, Message.external_id == external_id)
        )).first()
        if row is None:
            return None, external_id
        sender = (await s.execute(select(ChannelIdentity.client_id).where(
            ChannelIdentity.channel == msg.channel, ChannelIdentity.external_id == msg.user_id))).scalar_one_or_none()
        if external_id == scoped or sender == row[3]:
            return row, external_id
    raise AssertionError("unreachable")


def _apply_edit(unit: Unit, stored: Message, msg: InboundMessage, public_id: str, number: int) -> Receipt:
    """The client edited a message: the stored text shows the edit; the previous text stays in the audit."""
    unit.session.add(AuditEvent(kind="message_edited", ticket_id=stored.ticket_id,
                                data={"message_id": stored.id, "previous_text": stored.text}))
    stored.text = msg.text[:MAX_TEXT]
    stored.edited_at = utcnow()
    unit.events.append(MessageEdited(ticket_id=stored.ticket_id, message_id=stored.id))
    return Receipt(stored.id, stored.ticket_id, public_id, number, edited=True)


@dataclass(frozen=True)
class _NewIdentity:
    client_id: int


async def _identity(s, msg: InboundMessage) -> tuple[ChannelIdentity | _NewIdentity, bool]:
    """The sender's channel identity, and whether it (with its client) was created just now."""
    identity = (await s.execute(
        select(ChannelIdentity).where(ChannelIdentity.channel == msg.channel, ChannelIdentity.external_id == msg.user_id)
    )).scalar_one_or_none()
    if identity is None:
        client_id = (await s.execute(insert(Client).values(**client_row(msg)).returning(Client.id))).scalar_one()
        await s.execute(insert(ChannelIdentity).values(**identity_row(msg, client_id)))
        return _NewIdentity(client_id), True
    note_claims(identity, msg)
    return identity, False


async def _ticket_for(desk: Desk, s, identity, msg: InboundMessage, new_client: bool, now,
                      audits: list[dict]) -> tuple[Ticket | NewTicket, bool]:
    # Threading (which ticket a message joins, reopens or continues) lives in bot/actions/threads.py.
    placement = await place_message(desk, s, identity.client_id, msg, new_client=new_client)
    if placement.ticket is not None:
        return placement.ticket, False
    number = (await s.execute(
        update(Counter).where(Counter.name == "ticket_number").values(value=Counter.value + 1).returning(Counter.value)
    )).scalar_one()
    row = ticket_row(msg, identity.client_id, number, await queue_id(desk, s, msg.queue_hint), placement, now)
    ticket_id = (await s.execute(insert(Ticket).values(**row).returning(Ticket.id))).scalar_one()
    audits.append(opened_audit(ticket_id, number, msg, placement, now))
    return NewTicket(ticket_id, row["public_id"], number), True
