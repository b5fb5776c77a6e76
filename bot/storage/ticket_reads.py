"""The console's ticket page in few reads: each statement built once, plain rows, one round trip per kind of thing.

The page used to make about twenty small queries (ORM objects with `selectinload`, the same
table read twice, the routing header's own session); every round trip costs the event loop a
hop to the database driver and back, which was most of the page's time after rendering.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, literal, null, select, union_all
from sqlalchemy.orm import aliased

from bot.storage.models import (
    AuditEvent, BotDialogue, ChannelIdentity, Client, ClientSegment, Complaint, FollowUp, Message, Note, Notification,
    Operator, Queue, RoutingDecision, Survey, Ticket, TicketSla, operator_queues,
)
from bot.storage.queries import TicketRow, _ticket_rows_query

_PREVIOUS = aliased(Ticket, name="previous_ticket")
_MENTIONED = aliased(Ticket, name="mentioned_ticket")
_NUMBERED = aliased(Ticket, name="numbered")
_OFFERED = aliased(Operator, name="offered")
_VIEWER = aliased(Operator, name="viewer")

# Every ticket of the client whose ticket has this number, newest first, with how many messages each holds
# and whether it has notes or a hand-off from the bot (most have neither: then those reads are skipped).
_CLIENT_TICKETS = _ticket_rows_query().add_columns(
    select(func.count(Message.id)).where(Message.ticket_id == Ticket.id).correlate(Ticket).scalar_subquery(),
    select(Note.id).where(Note.ticket_id == Ticket.id).correlate(Ticket).exists(),
    select(BotDialogue.ticket_id).where(BotDialogue.ticket_id == Ticket.id, BotDialogue.handoff_message_id.is_not(None))
    .correlate(Ticket).exists(),
).where(Ticket.client_id == select(_NUMBERED.client_id).where(_NUMBERED.number == bindparam("number"))
        .scalar_subquery()).order_by(Ticket.id.desc())

_DECIDED = aliased(RoutingDecision, name="decided")
_LATEST_DECISION = select(_DECIDED.id).where(_DECIDED.ticket_id == Ticket.id).correlate(Ticket) \
    .order_by(_DECIDED.id.desc()).limit(1).scalar_subquery()
_UNREAD = select(func.count()).select_from(Notification).where(
    Notification.operator_id == _VIEWER.id, Notification.read_at.is_(None)).correlate(_VIEWER).scalar_subquery()

# One row of what the page shows about one ticket beside its history: links, routing and SLA, the client's
# card, survey and segment, and the viewer's presence and unread alerts (the header, read here instead of
# in the routing middleware's own session).
_DETAILS = select(
    _PREVIOUS.number.label("previous"), _MENTIONED.number.label("mentioned"),
    Ticket.offered_to_id, Ticket.offer_expires_at, Ticket.relaxed, _OFFERED.display_name.label("offered_name"),
    TicketSla.ticket_id.label("sla_ticket"), TicketSla.level.label("sla_level"), TicketSla.clock.label("sla_clock"),
    TicketSla.yellow_at.label("sla_yellow_at"), TicketSla.red_at.label("sla_red_at"),
    TicketSla.paused.label("sla_paused"),
    RoutingDecision.id.label("decision_id"), RoutingDecision.queue.label("decision_queue"),
    RoutingDecision.reason.label("decision_reason"), RoutingDecision.corrected_queue.label("decision_corrected"),
    Client.display_name.label("client_display_name"), Client.email.label("client_email"),
    Client.phone.label("client_phone"), Client.language.label("client_language"),
    Survey.id.label("survey_id"), Survey.status.label("survey_status"), Survey.score.label("survey_score"),
    Survey.comment.label("survey_comment"), Survey.skip_reason.label("survey_skip_reason"),
    ClientSegment.segment.label("segment"), ClientSegment.pinned.label("segment_pinned"),
    ClientSegment.tags.label("segment_tags"),
    _VIEWER.status.label("viewer_status"), _UNREAD.label("viewer_unread"),
    select(Complaint.id).where(Complaint.ticket_id == Ticket.id).correlate(Ticket).exists().label("complaints"),
    select(FollowUp.id).where(FollowUp.ticket_id == Ticket.id, FollowUp.status == "open").correlate(Ticket).exists()
    .label("follow_ups"),
    # The read audit's throttle (bot/actions/audit.py), so a page view it covers needs no write transaction.
    select(AuditEvent.id).where(AuditEvent.kind == bindparam("read_kind"), AuditEvent.operator_id == _VIEWER.id,
                                AuditEvent.at > bindparam("read_since"), AuditEvent.ticket_id == Ticket.id)
    .correlate(Ticket, _VIEWER).exists().label("read_recorded"),
).select_from(Ticket).join(Client, Client.id == Ticket.client_id) \
    .outerjoin(_VIEWER, _VIEWER.id == bindparam("viewer_id")) \
    .outerjoin(_PREVIOUS, _PREVIOUS.id == Ticket.previous_ticket_id) \
    .outerjoin(_MENTIONED, _MENTIONED.id == Ticket.mentioned_ticket_id) \
    .outerjoin(_OFFERED, _OFFERED.id == Ticket.offered_to_id) \
    .outerjoin(TicketSla, TicketSla.ticket_id == Ticket.id) \
    .outerjoin(RoutingDecision, RoutingDecision.id == _LATEST_DECISION) \
    .outerjoin(Survey, Survey.ticket_id == Ticket.id) \
    .outerjoin(ClientSegment, ClientSegment.client_id == Ticket.client_id) \
    .where(Ticket.id == bindparam("ticket_id"))

_IDENTITIES = select(ChannelIdentity.channel, ChannelIdentity.display_name, ChannelIdentity.external_id,
                     ChannelIdentity.claimed_email, ChannelIdentity.verified, ChannelIdentity.unreachable,
                     ChannelIdentity.unreachable_reason) \
    .where(ChannelIdentity.client_id == bindparam("client_id")).order_by(ChannelIdentity.id)

_NOTES = select(Note.id, Note.ticket_id, Note.text, Note.created_at, Operator.display_name.label("operator_name")) \
    .outerjoin(Operator, Operator.id == Note.operator_id) \
    .where(Note.ticket_id.in_(bindparam("ids", expanding=True))).order_by(Note.id)

# Per ticket the bot handed over: the last message of the bot part, the reason, the state (its summary
# note's id) and how many messages the bot part holds; `bot_parts` and `bot_summaries` in one read.
_HANDOFFS = select(
    BotDialogue.ticket_id, BotDialogue.handoff_message_id, BotDialogue.handoff_reason, BotDialogue.state,
    select(func.count(Message.id)).where(Message.ticket_id == BotDialogue.ticket_id,
                                         Message.id <= BotDialogue.handoff_message_id)
    .correlate(BotDialogue).scalar_subquery(),
).where(BotDialogue.ticket_id.in_(bindparam("ids", expanding=True)), BotDialogue.handoff_message_id.is_not(None))

# Queue names and active operators with their queues in one statement: ("queue", name, None, None) and
# ("operator", username, display name, queue name or None) rows, each kind in name order.
_TRANSFER_CHOICES = union_all(
    select(literal("queue").label("kind"), Queue.name.label("name"), null().label("display_name"),
           null().label("queue")),
    select(literal("operator"), Operator.username, Operator.display_name, Queue.name)
    .outerjoin(operator_queues, operator_queues.c.operator_id == Operator.id)
    .outerjoin(Queue, Queue.id == operator_queues.c.queue_id).where(Operator.active.is_(True)),
).order_by("kind", "name")

_COMPLAINTS = select(Complaint.reference, Complaint.status, Complaint.category, Complaint.due_at) \
    .where(Complaint.ticket_id == bindparam("ticket_id")).order_by(Complaint.id)
_FOLLOW_UPS = select(FollowUp.id, FollowUp.reason, FollowUp.detail) \
    .where(FollowUp.ticket_id == bindparam("ticket_id"), FollowUp.status == "open")


async def client_tickets_by_number(session, number: int) -> tuple[list[TicketRow], dict[int, tuple[int, bool, bool]]]:
    """Every ticket of the client whose ticket has this number (none if there is no such ticket), newest
    first and unfiltered (the caller applies Viewer.can_see_ticket), and by ticket id (messages, whether it
    has notes, whether the bot handed it over)."""
    rows, facts = [], {}
    for *fields, messages, noted, handed_off in await session.execute(_CLIENT_TICKETS, {"number": number}):
        rows.append(TicketRow(*fields))
        facts[rows[-1].id] = (messages, bool(noted), bool(handed_off))
    return rows, facts


async def ticket_details(session, ticket_id: int, viewer_id: int, read_kind: str, read_since: datetime):
    """`_DETAILS`' row of one ticket for one viewer, or None when the ticket is gone; `read_recorded` says
    whether an audit event of `read_kind` by the viewer on this ticket is newer than `read_since`."""
    return (await session.execute(_DETAILS, {"ticket_id": ticket_id, "viewer_id": viewer_id, "read_kind": read_kind,
                                             "read_since": read_since})).first()


async def identities(session, client_id: int) -> list:
    """The client's channel identities, oldest first, as rows with ChannelIdentity's attribute names."""
    return list(await session.execute(_IDENTITIES, {"client_id": client_id}))


async def notes(session, ticket_ids) -> list:
    """The notes of these tickets in order, each with its author's name (`operator_name`, None if unknown)."""
    return list(await session.execute(_NOTES, {"ids": list(ticket_ids)})) if ticket_ids else []


async def handoffs(session, ticket_ids) -> list[tuple[int, int, str, dict | None, int]]:
    """(ticket id, last message of the bot part, hand-off reason, bot state, messages in the bot part) per
    ticket the bot handed over."""
    return [tuple(r) for r in await session.execute(_HANDOFFS, {"ids": list(ticket_ids)})] if ticket_ids else []


async def transfer_choices(session) -> tuple[list[str], list[tuple[str, str, list[str]]]]:
    """Queue names in order, and (username, display name, queue names) of active operators, as
    `queries.queue_names` and `queries.operators_for_transfer` give them."""
    queues: list[str] = []
    operators: dict[str, tuple[str, str, list[str]]] = {}
    for kind, name, display_name, queue in await session.execute(_TRANSFER_CHOICES):
        if kind == "queue":
            queues.append(name)
            continue
        found = operators.setdefault(name, (name, display_name, []))
        if queue is not None:
            found[2].append(queue)
    for _, _, names in operators.values():
        names.sort()  # as Python sorts them: the database's collation may differ
    return queues, list(operators.values())


async def complaints_and_follow_ups(session, details, ticket_id: int) -> tuple[list[tuple], list[tuple]]:
    """The ticket's complaints (reference, status, category, due) in order and its open follow-ups
    (id, reason, detail), as `feedback_queries.ticket_feedback` gives them; read only where its
    `ticket_details` row says there are any."""
    complaints = [tuple(r) for r in await session.execute(_COMPLAINTS, {"ticket_id": ticket_id})] \
        if details.complaints else []
    follow_ups = [tuple(r) for r in await session.execute(_FOLLOW_UPS, {"ticket_id": ticket_id})] \
        if details.follow_ups else []
    return complaints, follow_ups


async def viewer_header(session, viewer_id: int):
    """(status, unread alerts) of an operator, for a page that did not read `_DETAILS`."""
    return (await session.execute(select(_VIEWER.status, _UNREAD).where(_VIEWER.id == viewer_id))).first()
