"""The inbox's batch path: a group-commit batch of messages stored with a handful of set-based statements.

One by one, a message costs seven or eight statements (stored copy, sender, survey, threading,
counter, ticket, message, audit), each a round trip to the database; a batch of them here reads
what it needs for all at once and writes the rows of all together. The outcome (rows, receipts,
events) is what writing them one by one in the batch's order gives, because only "plain" messages
take this path: those nothing earlier in the batch can change the reads of. The others (a copy or
an edit of a stored message, a second message of the same sender or client, a possible survey
answer, a reply to a message of this batch, a ticket number not found) take the one-by-one path at
their place in the order, in the same transaction; plain messages between them are written
together, after everything before them.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import insert, or_, select, update

from bot.actions.context import Desk, Unit
from bot.actions.inbox_rows import (
    Job, NewTicket, attachment_rows, client_row, identity_row, message_row, note_claims, opened_audit, queue_id,
    received_audit, ticket_row, touch_ticket,
)
from bot.actions.surveys import clients_with_open_surveys
from bot.actions.threads import Placement, follows_chat, latest_in_chats, named_tickets, place
from bot.domain import InboundMessage, Receipt
from bot.events import MessageReceived
from bot.storage.bulk import insert_ids
from bot.storage.models import AuditEvent, ChannelIdentity, Client, Counter, Message, StoredAttachment, Ticket, utcnow

ReceiveOne = Callable[[Desk, Unit, Job], Awaitable[Receipt]]


@dataclass
class _Plain:
    """A message of the batch the set-based path writes, with what was read for it."""

    index: int
    job: Job
    identity: ChannelIdentity | None  # None: a new sender, created with its client
    named: list[Ticket] = field(default_factory=list)
    latest: Ticket | None = None


async def receive_batch(desk: Desk, unit: Unit, jobs: list[Job], receive_one: ReceiveOne) -> list[Receipt]:
    """Store a batch of messages in the caller's transaction; one receipt per job, in order."""
    plain = await _plain_messages(desk, unit.session, jobs)
    receipts: list[Receipt | None] = [None] * len(jobs)
    run: list[_Plain] = []
    for index, job in enumerate(jobs):
        if index in plain:
            run.append(plain[index])
            continue
        if run:
            await _write_plain(desk, unit, run, receipts)
            run = []
        receipts[index] = await receive_one(desk, unit, job)
    if run:
        await _write_plain(desk, unit, run, receipts)
    return receipts


async def _plain_messages(desk: Desk, s, jobs: list[Job]) -> dict[int, _Plain]:
    """The messages of the batch the set-based path may write, by their place in the batch."""
    stored = await _stored_ids(s, [j.msg for j in jobs])
    identities = await _identities(s, [j.msg for j in jobs])
    plain: dict[int, _Plain] = {}
    senders, clients, ids = set(), set(), set()
    for index, job in enumerate(jobs):
        msg = job.msg
        identity = identities.get((msg.channel, msg.user_id))
        client_id = identity.client_id if identity is not None else None
        if (not msg.edited and (msg.channel, msg.message_id) not in stored
                and (msg.channel, msg.user_id) not in senders and client_id not in clients
                and not any((msg.channel, ref) in ids for ref in msg.references)):
            plain[index] = _Plain(index, job, identity)
        senders.add((msg.channel, msg.user_id))
        if client_id is not None:
            clients.add(client_id)
        ids.add((msg.channel, msg.message_id))
    if desk.settings.feedback.survey.enabled:
        chats = {_chat(p) for p in plain.values() if p.identity is not None}
        asked = await clients_with_open_surveys(s, chats) if chats else set()
        plain = {i: p for i, p in plain.items() if p.identity is None or _chat(p) not in asked}
    for index, p in list(plain.items()):
        msg = p.job.msg
        if msg.references or msg.ticket_number is not None:
            p.named = await named_tickets(s, msg)
            if msg.ticket_number is not None and not any(t.number == msg.ticket_number for t in p.named):
                del plain[index]  # a number no ticket has yet might be one this batch opens
    chats = {_chat(p) for p in plain.values() if p.identity is not None and _follows_chat(p)}
    latest = await latest_in_chats(s, chats) if chats else {}
    for p in plain.values():
        if p.identity is not None and _follows_chat(p):
            p.latest = latest.get(_chat(p))
    return plain


def _chat(p: _Plain) -> tuple[int, str, str]:
    return p.identity.client_id, p.job.msg.channel, p.job.msg.chat_id


def _follows_chat(p: _Plain) -> bool:
    """Whether threading reads the chat's latest ticket for this message (see place_message)."""
    return not any(t.client_id == p.identity.client_id for t in p.named) and follows_chat(p.job.msg, False)


def _by_channel(column_channel, column_id, pairs: set[tuple[str, str]]):
    """(channel, id) IN pairs, as one IN list per channel, so the (channel, id) unique indexes serve it."""
    channels: dict[str, list[str]] = {}
    for channel, external_id in pairs:
        channels.setdefault(channel, []).append(external_id)
    return or_(*((column_channel == channel) & column_id.in_(ids) for channel, ids in channels.items()))


async def _stored_ids(s, msgs: list[InboundMessage]) -> set[tuple[str, str]]:
    """Which (channel, message id) of the batch are stored already: one read."""
    rows = await s.execute(select(Message.channel, Message.external_id).where(
        _by_channel(Message.channel, Message.external_id, {(m.channel, m.message_id) for m in msgs})))
    return {tuple(row) for row in rows}


async def _identities(s, msgs: list[InboundMessage]) -> dict[tuple[str, str], ChannelIdentity]:
    """The senders' channel identities the desk knows: one read."""
    rows = (await s.execute(select(ChannelIdentity).where(
        _by_channel(ChannelIdentity.channel, ChannelIdentity.external_id, {(m.channel, m.user_id) for m in msgs})
    ))).scalars()
    return {(i.channel, i.external_id): i for i in rows}


async def _write_plain(desk: Desk, unit: Unit, run: list[_Plain], receipts: list) -> None:
    """Write consecutive plain messages with one statement per table, as one by one would."""
    s, now = unit.session, utcnow()
    new = [p for p in run if p.identity is None]
    client_ids = {}
    if new:
        ids = await insert_ids(s, Client, [client_row(p.job.msg) for p in new])
        client_ids = {p.index: client_id for p, client_id in zip(new, ids)}
        await s.execute(insert(ChannelIdentity), [identity_row(p.job.msg, client_ids[p.index]) for p in new])
    placements: list[tuple[_Plain, int, Placement]] = []
    for p in run:
        if p.identity is not None:
            note_claims(p.identity, p.job.msg)
        client_id = p.identity.client_id if p.identity is not None else client_ids[p.index]
        placements.append((p, client_id, place(desk, s, client_id, p.job.msg, p.named, p.latest)))
    tickets = await _open_tickets(desk, s, [(p, c, pl) for p, c, pl in placements if pl.ticket is None], now)
    for p, _client_id, placement in placements:
        if placement.ticket is not None:
            tickets[p.index] = placement.ticket
            touch_ticket(placement.ticket, p.job.msg, now)
    message_ids = await insert_ids(s, Message, [
        message_row(p.job.msg, tickets[p.index].id, p.job.msg.message_id, p.job.originals, now) for p in run])
    attachments = [row for p, message_id in zip(run, message_ids) for row in attachment_rows(p.job.msg, message_id, p.job.keys)]
    if attachments:
        await s.execute(insert(StoredAttachment), attachments)
    audits = []
    for (p, _client_id, placement), message_id in zip(placements, message_ids):
        ticket, msg = tickets[p.index], p.job.msg
        opened = placement.ticket is None
        if opened:
            audits.append(opened_audit(ticket.id, ticket.number, msg, placement, now))
        audits.append(received_audit(ticket.id, message_id, msg, now))
        unit.events.append(MessageReceived(ticket_id=ticket.id, message_id=message_id, new_ticket=opened,
                                           automated=msg.automated))
        receipts[p.index] = Receipt(message_id, ticket.id, ticket.public_id, ticket.number, new_ticket=opened)
    await s.execute(insert(AuditEvent), audits)


async def _open_tickets(desk: Desk, s, opening: list[tuple[_Plain, int, Placement]], now) -> dict[int, NewTicket]:
    """New tickets for these messages: their numbers reserved with one counter update, then one insert."""
    if not opening:
        return {}
    top = (await s.execute(
        update(Counter).where(Counter.name == "ticket_number").values(value=Counter.value + len(opening))
        .returning(Counter.value))).scalar_one()
    rows = [ticket_row(p.job.msg, client_id, top - len(opening) + 1 + n, await queue_id(desk, s, p.job.msg.queue_hint),
                       placement, now) for n, (p, client_id, placement) in enumerate(opening)]
    ids = await insert_ids(s, Ticket, rows)
    return {p.index: NewTicket(ticket_id, row["public_id"], row["number"])
            for (p, _c, _pl), row, ticket_id in zip(opening, rows, ids)}
