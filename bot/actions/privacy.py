"""A client's data on request: export it all as JSON, or erase the personal part and keep the statistics.

Erasure keeps ticket rows, numbers, queues, times, scores and routing decisions (what the digest and
SLA reports count) and removes what identifies or quotes the person: names, addresses, channel ids,
message texts (and their copies kept for training), notes, survey comments, complaint and follow-up
texts, the bot's form answers, the previous texts of edited messages (bot/actions/ticket_words.py)
and the attachment files (bot/actions/stored_files.py). Every export and erasure leaves an audit
event naming who did it.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, func, select, update

from bot.actions.context import Desk, unit_of_work
from bot.actions.stored_files import remove_unreferenced
from bot.actions.ticket_words import ERASED, erase_ticket_words
from bot.errors import NotFound
from bot.storage.models import (
    AuditEvent, ChannelIdentity, Client, Complaint, FollowUp, Message, Note, RoutingDecision, StoredAttachment, Survey,
    Ticket, UnansweredQuestion,
)

logger = logging.getLogger(__name__)


def _row(obj, *skip: str) -> dict:
    """A model row as JSON-ready values."""
    out = {}
    for column in obj.__table__.columns:
        if column.key in skip:
            continue
        value = getattr(obj, column.key)
        out[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return out


async def _client(s, client_id: int) -> Client:
    client = await s.get(Client, client_id)
    if client is None:
        raise NotFound(f"there is no client {client_id}: find the number on a ticket page or in the API")
    return client


async def export_client(desk: Desk, client_id: int, by: str) -> dict:
    """Everything stored about one client, as plain JSON values; records who exported it."""
    async with unit_of_work(desk) as unit:
        s = unit.session
        client = await _client(s, client_id)
        tickets = list((await s.execute(select(Ticket).where(Ticket.client_id == client_id).order_by(Ticket.id))).scalars())
        ids = [t.id for t in tickets]
        messages = list((await s.execute(select(Message).where(Message.ticket_id.in_(ids)).order_by(Message.id))).scalars())
        files = list((await s.execute(select(StoredAttachment).where(
            StoredAttachment.message_id.in_([m.id for m in messages])).order_by(StoredAttachment.id))).scalars())
        by_message: dict[int, list[dict]] = {}
        for f in files:
            by_message.setdefault(f.message_id, []).append(_row(f, "message_id"))
        identities = (await s.execute(select(ChannelIdentity).where(ChannelIdentity.client_id == client_id))).scalars()
        surveys = (await s.execute(select(Survey).where(Survey.client_id == client_id))).scalars()
        complaints = (await s.execute(select(Complaint).where(Complaint.client_id == client_id))).scalars()
        questions = (await s.execute(select(UnansweredQuestion).where(UnansweredQuestion.ticket_id.in_(ids)))).scalars()
        notes = list((await s.execute(select(Note).where(Note.ticket_id.in_(ids)).order_by(Note.id))).scalars())
        follow_ups = (await s.execute(select(FollowUp).where(FollowUp.ticket_id.in_(ids)).order_by(FollowUp.id))).scalars()
        edits = (await s.execute(select(AuditEvent).where(AuditEvent.kind == "message_edited", AuditEvent.ticket_id.in_(ids))
                                 .order_by(AuditEvent.id))).scalars()
        s.add(AuditEvent(kind="client_exported", data={"client_id": client_id, "by": by}))
        return {
            "client": _row(client),
            "identities": [_row(i) for i in identities],
            "tickets": [{**_row(t, "public_id"), "messages": [
                {**_row(m, "raw_key", "html_key"), "attachments": by_message.get(m.id, [])}
                for m in messages if m.ticket_id == t.id],
                "notes": [_row(n) for n in notes if n.ticket_id == t.id]} for t in tickets],
            "surveys": [_row(v, "token_hash") for v in surveys],
            "complaints": [_row(c) for c in complaints],
            "unanswered_questions": [_row(q) for q in questions],
            "follow_ups": [_row(f) for f in follow_ups],
            "message_edits": [{"at": e.at.isoformat(), "ticket_id": e.ticket_id, **e.data} for e in edits],
        }


async def erase_client(desk: Desk, client_id: int, by: str) -> dict[str, int]:
    """Remove the client's personal data, keep tickets and statistics; returns what was erased."""
    async with unit_of_work(desk) as unit:
        s = unit.session
        client = await _client(s, client_id)
        ids = select(Ticket.id).where(Ticket.client_id == client_id)
        message_ids = select(Message.id).where(Message.ticket_id.in_(ids))
        files = list((await s.execute(select(StoredAttachment).where(StoredAttachment.message_id.in_(message_ids)))).scalars())
        originals = [k for row in (await s.execute(select(Message.raw_key, Message.html_key).where(
            Message.ticket_id.in_(ids)))).all() for k in row if k]
        counts = {"messages": (await s.execute(select(func.count()).select_from(Message).where(Message.ticket_id.in_(ids)))).scalar_one(),
                  "attachments": len(files)}
        client.display_name, client.email, client.phone = ERASED, "", ""
        # Channel ids identify the person; a later message from them starts a new client.
        counts["identities"] = (await s.execute(delete(ChannelIdentity).where(ChannelIdentity.client_id == client_id))).rowcount
        await s.execute(update(Message).where(Message.ticket_id.in_(ids)).values(
            text=ERASED, folded_text="", raw_key="", html_key="", choices=[]))
        await s.execute(delete(StoredAttachment).where(StoredAttachment.message_id.in_(message_ids)))
        await s.execute(update(Ticket).where(Ticket.client_id == client_id).values(subject="", source="", chat_id=ERASED))
        # Copies of the client's words kept for the bot's and the router's training.
        await s.execute(update(UnansweredQuestion).where(UnansweredQuestion.ticket_id.in_(ids)).values(question=ERASED))
        await s.execute(update(RoutingDecision).where(RoutingDecision.ticket_id.in_(ids)).values(text=""))
        # Notes, survey comments, complaint and follow-up texts, form answers, edit history of the tickets;
        # then what is tied to the client though not (or no longer) to one of their tickets.
        counts["texts"] = await erase_ticket_words(s, ids)
        await s.execute(update(Survey).where(Survey.client_id == client_id, Survey.comment != "").values(comment=""))
        await s.execute(update(Complaint).where(Complaint.client_id == client_id).values(summary=ERASED, resolution=""))
        counts["tickets"] = (await s.execute(select(func.count()).select_from(Ticket).where(Ticket.client_id == client_id))).scalar_one()
        s.add(AuditEvent(kind="client_erased", data={"client_id": client_id, "by": by, **counts}))
        await s.flush()
        keys = {f.storage_key for f in files} | set(originals)
        # Marked before the commit: a crash after it leaves the files to the sweep, never orphaned.
        desk.files.mark_pending(keys)
    # After commit: a failed transaction never loses a file it still names, and a file another row
    # (or an identical upload still in flight) uses stays (bot/actions/stored_files.py).
    removal = await remove_unreferenced(desk, keys)
    counts["files_removed"] = removal.removed
    if removal.deferred:
        logger.info("erasure of client %s: %d stored files are removed by the next sweep", client_id, removal.deferred)
    return counts
