"""The inbox's batch path: a group-commit batch of messages stored with a handful of set-based statements.

One by one, a message costs seven or eight statements (stored copy, sender, survey, threading,
counter, ticket, message, audit), each a round trip to the database; a batch of them here reads
what it needs for all at once and writes the rows of all together. The outcome (rows, receipts,
events) is what writing them one by one in the batch's order gives: threading runs in the
batch's order on what was read, and what a message changes for the next one of its client (a new
client and identity, a ticket opened, joined, reopened) is carried in memory to it. Messages
whose reads something earlier in the batch could change otherwise (a copy or an edit of a stored
message, a possible survey answer, a reply to a message of this batch, a ticket number not found)
take the one-by-one path at their place in the order, in the same transaction; so does every
later message of a client seen before such a one. Plain messages between them are written
together, after everything before them.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import insert, select, update

from bot.actions.context import Desk, Unit
from bot.actions.inbox_rows import (
    Job, attachment_rows, client_row, identity_row, message_row, note_claims, opened_audit, queue_id,
    TOUCH, received_audit, ticket_row, touch_ticket,
)
from bot.actions.surveys import clients_with_open_surveys
from bot.actions.threads import Placement, follows_chat, latest_in_chats, named_tickets, pairs_in, place
from bot.domain import InboundMessage, Receipt, TicketStatus
from bot.events import MessageReceived
from bot.storage.bulk import insert_ids
from bot.storage.models import AuditEvent, ChannelIdentity, Client, Counter, Message, StoredAttachment, Ticket, utcnow

ReceiveOne = Callable[[Desk, Unit, Job], Awaitable[Receipt]]
Chat = tuple[int, str, str]  # (client id, channel, chat id)


@dataclass
class _Plain:
    """A message of the batch the set-based path writes, with what was read for it."""

    index: int
    job: Job
    identity: ChannelIdentity | None  # None: a sender the desk did not know when the batch began
    named: list[Ticket] = field(default_factory=list)


@dataclass
class _Opened:
    """A ticket a message of this run opens: written with the run, joinable by the next messages of its chat."""

    msg: InboundMessage
    client_id: int
    placement: Placement
    language: str
    status: str = TicketStatus.NEW.value
    id: int = 0
    public_id: str = ""
    number: int = 0
    last_message_at: datetime | None = None
    updated_at: datetime | None = None


async def receive_batch(desk: Desk, unit: Unit, jobs: list[Job], receive_one: ReceiveOne) -> list[Receipt]:
    """Store a batch of messages in the caller's transaction; one receipt per job, in order."""
    plain, latest = await _plain_messages(desk, unit.session, jobs)
    receipts: list[Receipt | None] = [None] * len(jobs)
    run: list[_Plain] = []
    for index, job in enumerate(jobs):
        if index in plain:
            run.append(plain[index])
            continue
        if run:
            await _write_plain(desk, unit, run, receipts, latest)
            run = []
        receipts[index] = await receive_one(desk, unit, job)
    if run:
        await _write_plain(desk, unit, run, receipts, latest)
    return receipts


async def _plain_messages(desk: Desk, s, jobs: list[Job]) -> tuple[dict[int, _Plain], dict[Chat, Ticket]]:
    """The messages of the batch the set-based path may write, by their place in the batch, and the
    latest joinable ticket of their known clients' chats."""
    msgs = [j.msg for j in jobs]
    stored = await _stored_ids(s, msgs)
    identities = await _identities(s, msgs)
    plain: dict[int, _Plain] = {}
    ids = set()
    for index, msg in enumerate(msgs):
        if (not msg.edited and (msg.channel, msg.message_id) not in stored
                and not any((msg.channel, ref) in ids for ref in msg.references)):
            plain[index] = _Plain(index, jobs[index], identities.get((msg.channel, msg.user_id)))
        ids.add((msg.channel, msg.message_id))
    if desk.settings.feedback.survey.enabled:
        chats = {_chat(p) for p in plain.values() if p.identity is not None}
        asked = await clients_with_open_surveys(s, chats) if chats else set()
        plain = {i: p for i, p in plain.items() if p.identity is None or _chat(p) not in asked}
    naming = [p for p in plain.values() if p.job.msg.references or p.job.msg.ticket_number is not None]
    for p, named in zip(naming, await named_tickets(s, [p.job.msg for p in naming]) if naming else []):
        p.named = named
        if p.job.msg.ticket_number is not None and not any(t.number == p.job.msg.ticket_number for t in named):
            del plain[p.index]  # a number no ticket has yet might be one this batch opens
    # A message the one-by-one path writes may change what its client's later messages read:
    # those go one by one too (every client seen so far, to keep it simple; such messages are rare).
    seen: set[tuple] = set()
    closed: set[tuple] = set()
    for index, msg in enumerate(msgs):
        identity = identities.get((msg.channel, msg.user_id))
        who = {(msg.channel, msg.user_id)} | ({identity.client_id} if identity is not None else set())
        seen |= who
        if index not in plain or who & closed:
            plain.pop(index, None)
            closed |= seen
    chats = {_chat(p) for p in plain.values() if p.identity is not None and follows_chat(p.job.msg, False)}
    return plain, (await latest_in_chats(s, chats) if chats else {})


def _chat(p: _Plain) -> Chat:
    return p.identity.client_id, p.job.msg.channel, p.job.msg.chat_id


async def _stored_ids(s, msgs: list[InboundMessage]) -> set[tuple[str, str]]:
    """Which (channel, message id) of the batch are stored already: one read."""
    rows = await s.execute(select(Message.channel, Message.external_id).where(
        pairs_in(Message.channel, Message.external_id, {(m.channel, m.message_id) for m in msgs})))
    return {tuple(row) for row in rows}


async def _identities(s, msgs: list[InboundMessage]) -> dict[tuple[str, str], ChannelIdentity]:
    """The senders' channel identities the desk knows: one read."""
    rows = (await s.execute(select(ChannelIdentity).where(
        pairs_in(ChannelIdentity.channel, ChannelIdentity.external_id, {(m.channel, m.user_id) for m in msgs})
    ))).scalars()
    return {(i.channel, i.external_id): i for i in rows}


async def _write_plain(desk: Desk, unit: Unit, run: list[_Plain], receipts: list, latest: dict[Chat, Ticket]) -> None:
    """Write consecutive plain messages with one statement per table, as one by one would."""
    s, now = unit.session, utcnow()
    firsts: dict[tuple[str, str], _Plain] = {}  # a new sender's first message creates its client and identity
    for p in run:
        if p.identity is None:
            firsts.setdefault((p.job.msg.channel, p.job.msg.user_id), p)
    new_ids = await insert_ids(s, Client, [client_row(p.job.msg) for p in firsts.values()]) if firsts else []
    new = {key: SimpleNamespace(**identity_row(p.job.msg, client_id)) for (key, p), client_id in zip(firsts.items(), new_ids)}
    placed: list[tuple[_Plain, Ticket | _Opened, Placement]] = []
    opening: list[_Opened] = []
    touches: dict[int, dict] = {}
    for p in run:
        msg = p.job.msg
        identity = p.identity or new[(msg.channel, msg.user_id)]
        note_claims(identity, msg)
        new_client = p.identity is None and firsts[(msg.channel, msg.user_id)] is p
        chat = (identity.client_id, msg.channel, msg.chat_id)
        follows = not any(t.client_id == identity.client_id for t in p.named) and follows_chat(msg, new_client)
        placement = place(desk, s, identity.client_id, msg, p.named, latest.get(chat) if follows else None)
        ticket = placement.ticket
        if ticket is None:
            ticket = latest[chat] = _Opened(msg, identity.client_id, placement, msg.locale_hint[:8])
            opening.append(ticket)
        else:
            touched = touch_ticket(ticket, msg, now)
            if touched is not None:
                touches[ticket.id] = touched
        placed.append((p, ticket, placement))
    if touches:  # in id order, as the session's flush wrote them: two batches lock tickets alike
        await s.execute(TOUCH, [touches[i] for i in sorted(touches)])
    if new:
        await s.execute(insert(ChannelIdentity), [vars(i) for i in new.values()])
    await _open_tickets(desk, s, opening, now)
    # In ticket order (a ticket's own messages keep their order): each follow-up's trigger (migration
    # 0012) updates its ticket's SLA row, and the SLA sync writes those rows in ticket order too, so
    # the two lock alike on PostgreSQL and never wait on each other in a cycle.
    order = sorted(range(len(placed)), key=lambda i: (placed[i][1].id, i))
    inserted = await insert_ids(s, Message, [
        message_row(placed[i][0].job.msg, placed[i][1].id, placed[i][0].job.msg.message_id, placed[i][0].job.originals, now)
        for i in order])
    message_ids = [0] * len(placed)
    for i, message_id in zip(order, inserted):
        message_ids[i] = message_id
    attachments = [row for p, message_id in zip(run, message_ids) for row in attachment_rows(p.job.msg, message_id, p.job.keys)]
    if attachments:
        await s.execute(insert(StoredAttachment), attachments)
    audits = []
    for (p, ticket, placement), message_id in zip(placed, message_ids):
        msg = p.job.msg
        opened = placement.ticket is None
        if opened:
            audits.append(opened_audit(ticket.id, ticket.number, msg, placement, now))
        audits.append(received_audit(ticket.id, message_id, msg, now))
        unit.events.append(MessageReceived(ticket_id=ticket.id, message_id=message_id, new_ticket=opened,
                                           automated=msg.automated))
        receipts[p.index] = Receipt(message_id, ticket.id, ticket.public_id, ticket.number, new_ticket=opened)
    await s.execute(insert(AuditEvent), audits)


async def _open_tickets(desk: Desk, s, opening: list[_Opened], now) -> None:
    """Write the run's new tickets: their numbers reserved with one counter update, then one insert."""
    if not opening:
        return
    top = (await s.execute(
        update(Counter).where(Counter.name == "ticket_number").values(value=Counter.value + len(opening))
        .returning(Counter.value))).scalar_one()
    rows = []
    for n, ticket in enumerate(opening):
        row = ticket_row(ticket.msg, ticket.client_id, top - len(opening) + 1 + n,
                         await queue_id(desk, s, ticket.msg.queue_hint), ticket.placement, now)
        rows.append(row | {"language": ticket.language})  # a later message of the run may have set it
    for ticket, row, ticket_id in zip(opening, rows, await insert_ids(s, Ticket, rows)):
        ticket.id, ticket.public_id, ticket.number = ticket_id, row["public_id"], row["number"]
