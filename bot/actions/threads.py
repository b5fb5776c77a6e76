"""Which ticket an inbound message belongs to: the one it answers, its chat's open one, or a new one.

The rules, for every channel alike:
- A message that names earlier messages (``references``: email In-Reply-To and References) or a
  ticket number (``[#1042]`` in a subject) belongs to that ticket, but only when its sender is the
  ticket's client (the sender's identity belongs to the ticket's client, which covers verified,
  merged identities). Anyone else's message never joins: it opens a ticket of its own that
  records the ticket it mentioned.
- Channels without explicit threads (chats) join the client's latest open ticket in that chat;
  with explicit threads (email) a message that names nothing starts a new ticket. Automated
  messages (auto-replies, bounces) fall back to the chat's latest ticket even then, so a storm of
  them collapses into one ticket.
- A resolved ticket is reopened by its client within ``desk.reopen_window_days`` of resolution;
  later, a new ticket opens that links the old one. A closed ticket is never reopened.
- Automated messages are stored but change no status: they never reopen a ticket nor count as the
  client's answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select

from bot.actions.context import Desk
from bot.domain import InboundMessage, TicketStatus
from bot.storage.models import AuditEvent, Message, Ticket, utcnow

# A message to a ticket in these states may join it (a resolved one only within the reopen window).
JOINABLE = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.WAITING, TicketStatus.RESOLVED)
MAX_REFERENCES = 50
# Our own sent messages are stored with this prefix before the platform's id (see bot/outbox.py).
OUTBOUND_PREFIX = "out:"


@dataclass
class Placement:
    """Where a message goes: join ``ticket``, or open a new ticket linking ``previous`` / ``mentioned``."""

    ticket: Ticket | None = None
    previous: Ticket | None = None  # the same client's earlier ticket this one continues
    mentioned: Ticket | None = None  # another client's ticket the message named; never joined


async def place_message(desk: Desk, s, client_id: int, msg: InboundMessage, new_client: bool = False) -> Placement:
    """Decide the ticket of an inbound message from a client; reopens or answers it as the rules say.

    `new_client`: the client was created in this transaction, so has no ticket of their own yet.
    """
    named = (await named_tickets(s, [msg]))[0]
    latest = None
    if not any(t.client_id == client_id for t in named) and follows_chat(msg, new_client):
        key = (client_id, msg.channel, msg.chat_id)
        latest = (await latest_in_chats(s, {key})).get(key)
    return place(desk, s, client_id, msg, named, latest)


def follows_chat(msg: InboundMessage, new_client: bool) -> bool:
    """Whether a message that names no ticket of its client's joins the latest one of its chat."""
    return (not msg.explicit_threads or msg.automated) and not new_client


async def latest_in_chats(s, chats: set[tuple[int, str, str]]) -> dict[tuple[int, str, str], Ticket]:
    """The latest joinable ticket of each (client id, channel, chat id), read for all of them at once."""
    rows = (await s.execute(
        select(Ticket)
        .where(Ticket.client_id.in_({c for c, _, _ in chats}), Ticket.channel.in_({ch for _, ch, _ in chats}),
               Ticket.status.in_([st.value for st in JOINABLE]))
        .order_by(Ticket.id)
    )).scalars()
    latest = {}
    for ticket in rows:  # ascending ids: the last one seen of a chat is its latest
        key = (ticket.client_id, ticket.channel, ticket.chat_id)
        if key in chats:
            latest[key] = ticket
    return latest


def place(desk: Desk, s, client_id: int, msg: InboundMessage, named: list[Ticket], latest: Ticket | None) -> Placement:
    """The rules, given the tickets the message names and its chat's latest joinable ticket (read only when
    the message names none of its client's and follows its chat)."""
    own = next((t for t in named if t.client_id == client_id), None)
    if own is not None:
        return _join_or_follow(desk, s, own, msg)
    mentioned = named[0] if named else None
    if latest is not None:
        placement = _join_or_follow(desk, s, latest, msg)
        placement.mentioned = mentioned
        return placement
    return Placement(mentioned=mentioned)


async def named_tickets(s, msgs: list[InboundMessage]) -> list[list[Ticket]]:
    """Tickets of its channel each message names, in preference order: nearest reference first, then the number.

    Two reads for all the messages together (their references, then the tickets), however many.
    """
    refs = [[r for r in dict.fromkeys(m.references) if r][:MAX_REFERENCES] for m in msgs]
    pairs = {(m.channel, x) for m, rs in zip(msgs, refs) for r in rs for x in (r, OUTBOUND_PREFIX + r)}
    by_id: dict[tuple[str, str], int] = {}
    if pairs:
        rows = await s.execute(select(Message.channel, Message.external_id, Message.ticket_id)
                               .where(pairs_in(Message.channel, Message.external_id, pairs)))
        by_id = {(channel, external.removeprefix(OUTBOUND_PREFIX)): ticket_id for channel, external, ticket_id in rows}
    ticket_ids = [[by_id[(m.channel, r)] for r in rs if (m.channel, r) in by_id] for m, rs in zip(msgs, refs)]
    numbers = {m.ticket_number for m in msgs if m.ticket_number is not None and 0 < m.ticket_number < 2 ** 62}
    wanted = {i for ids in ticket_ids for i in ids}
    found: list[Ticket] = []
    if wanted or numbers:
        found = list((await s.execute(select(Ticket).where(
            or_(Ticket.id.in_(wanted), Ticket.number.in_(numbers))))).scalars())
    by_ticket_id = {(t.id, t.channel): t for t in found}
    by_number = {(t.number, t.channel): t for t in found}
    named = []
    for msg, ids in zip(msgs, ticket_ids):
        ordered = [by_ticket_id[(i, msg.channel)] for i in dict.fromkeys(ids) if (i, msg.channel) in by_ticket_id]
        numbered = by_number.get((msg.ticket_number, msg.channel)) if msg.ticket_number in numbers else None
        if numbered is not None and numbered not in ordered:
            ordered.append(numbered)
        named.append(ordered)
    return named


def pairs_in(column_channel, column_id, pairs: set[tuple[str, str]]):
    """(channel, id) IN pairs, as one IN list per channel, so the (channel, id) unique indexes serve it."""
    channels: dict[str, list[str]] = {}
    for channel, external_id in pairs:
        channels.setdefault(channel, []).append(external_id)
    return or_(*((column_channel == channel) & column_id.in_(ids) for channel, ids in channels.items()))


def _join_or_follow(desk: Desk, s, ticket: Ticket, msg: InboundMessage) -> Placement:
    status = ticket.status
    if status in (TicketStatus.NEW.value, TicketStatus.OPEN.value):
        return Placement(ticket)
    if status == TicketStatus.WAITING.value:
        if not msg.automated:
            ticket.status = TicketStatus.OPEN.value
            s.add(AuditEvent(kind="client_answered", ticket_id=ticket.id, data={"by": "client"}))
        return Placement(ticket)
    if status == TicketStatus.RESOLVED.value and (msg.automated or within_reopen_window(desk, ticket)):
        if not msg.automated:
            ticket.status = TicketStatus.OPEN.value
            ticket.resolved_at = None
            s.add(AuditEvent(kind="ticket_reopened", ticket_id=ticket.id, data={"by": "client"}))
        return Placement(ticket)
    return Placement(previous=ticket)


def within_reopen_window(desk: Desk, ticket: Ticket) -> bool:
    """Whether the client's message may still reopen this resolved ticket."""
    if ticket.resolved_at is None:
        return True
    return utcnow() - ticket.resolved_at <= timedelta(days=desk.settings.desk.reopen_window_days)
