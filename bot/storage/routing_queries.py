"""Read queries of routing: operator snapshots for assignment, backlogs, timelines, the console's SLA views."""
from __future__ import annotations

import json
from collections import defaultdict, namedtuple
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from types import MappingProxyType

from sqlalchemy import Boolean, String, and_, bindparam, case, cast, func, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from bot.storage.models import (
    AuditEvent, Client, Message, Notification, OfferRefusal, Operator, OperatorLoad, OperatorSession, Queue,
    RoutingDecision, Ticket, TicketSla, operator_queues,
)
from router.assign import ONLINE
from router.sla import CLIENT, REOPEN, REPLY, RESOLVE, START, TimelineEvent

OPEN_STATUSES = ("new", "open", "waiting")
ASSIGNABLE_STATUSES = ("new", "open")
PRIORITY_ORDER = case((Ticket.priority == "urgent", 3), (Ticket.priority == "high", 2),
                      (Ticket.priority == "low", 0), else_=1)


def waiting_since():
    return func.coalesce(Ticket.handed_off_at, Ticket.created_at)


def assignable(now: datetime):
    """Tickets the router may hand out now: placed, open, nobody holds or is being offered them."""
    return assignable_row(Ticket.__table__, now)


def present(now: datetime, grace_seconds: float):
    """Operators who are online and whose console was seen within the grace time (0: no grace check)."""
    condition = and_(Operator.active.is_(True), Operator.status == ONLINE)
    if grace_seconds > 0:
        condition = and_(condition, Operator.seen_at >= now - timedelta(seconds=grace_seconds))
    return condition


async def operator_rows(session, queue_id: int, now: datetime, grace_seconds: float) -> list[tuple]:
    """(id, level, languages, capacity, last_assigned_at) of present operators of a queue."""
    rows = await session.execute(
        select(Operator.id, operator_queues.c.level, Operator.languages, Operator.capacity, Operator.last_assigned_at)
        .join(operator_queues, operator_queues.c.operator_id == Operator.id)
        .where(operator_queues.c.queue_id == queue_id, present(now, grace_seconds)))
    return [tuple(r) for r in rows]


def _held(channel=None):
    """Tickets an operator (the enclosing query's) holds, from the trigger-kept operator_loads, plus
    their live offers; on one channel when given. Index probes, never a scan of the tickets."""
    held = select(func.coalesce(func.sum(OperatorLoad.held), 0)).where(OperatorLoad.operator_id == Operator.id)
    if channel is not None:
        held = held.where(OperatorLoad.channel == channel)
    return held.scalar_subquery() + _offered(channel)


def _offered(channel=None):
    """Live offers to the enclosing query's operator, on one channel when given (the offer index)."""
    offered = select(func.count()).select_from(Ticket).where(
        Ticket.offered_to_id == Operator.id, Ticket.assignee_id.is_(None), Ticket.offer_expires_at > bindparam("now"))
    if channel is not None:
        offered = offered.where(Ticket.channel == channel)
    return offered.scalar_subquery()


# The ticket being decided, beside the `tickets` the load subqueries count (they must not correlate to it).
_DECIDED = Ticket.__table__.alias("decided")
# What a decision needs of its ticket, read in the same statement as the first page of operators. Its
# times are left out: they repeat on every row and would be converted on every row (about 0.5 ms a
# decision); the policy does not read them, and the refusals' cut-off is compared in SQL.
TICKET_COLUMNS = ("id", "version", "queue_id", "status", "channel", "language", "priority", "relaxed", "client_id")
DecidedTicket = namedtuple("DecidedTicket", TICKET_COLUMNS)
OPERATOR_COLUMNS = 8  # an operator row of the decision statement: these first, then the ticket's and its queue's


def assignable_row(t, now):
    """`assignable` for the tickets table or a Core alias of it (the decision statement's `decided`)."""
    return and_(t.c.routed_at.is_not(None), t.c.assignee_id.is_(None), t.c.status.in_(ASSIGNABLE_STATUSES),
                or_(t.c.offered_to_id.is_(None), t.c.offer_expires_at <= now))


class _Speaks(FunctionElement):
    """speaks(languages, language): an operator's languages (a JSON list) hold the language, exactly as
    `language in op.languages` (router/assign.py) decides it; where no exact test is known, true."""

    type = Boolean()
    name = "speaks"
    inherit_cache = True


@compiles(_Speaks)
def _speaks_anywhere(element, compiler, **kw):
    return "(1 = 1)"


@compiles(_Speaks, "sqlite")
def _speaks_sqlite(element, compiler, **kw):
    languages, language = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXISTS (SELECT 1 FROM json_each({languages}) WHERE json_each.value = {language})"


@compiles(_Speaks, "postgresql")
def _speaks_postgresql(element, compiler, **kw):
    languages, language = element.clauses
    return compiler.process(cast(languages, JSONB).has_key(language), **kw)


@lru_cache(maxsize=64)
def _page_query(order: str, grace: bool, only_ids: bool, limited: bool, lock: bool, by_language: bool = False):
    """The decision statement of one shape, built once: values arrive as bound parameters.

    One statement reads the ticket (if still assignable), its queue's name and a page of the
    queue's present operators who have not refused it. The queue is an uncorrelated subquery,
    a constant to both planners, so the page is still read along the membership index in order
    (migration 0011) and only the page's rows get their exact load (live offers, the ticket's
    channel) counted.
    """
    member, t = operator_queues.c, _DECIDED
    refused = select(OfferRefusal.id).where(OfferRefusal.ticket_id == t.c.id, OfferRefusal.operator_id == Operator.id,
                                            or_(t.c.queued_at.is_(None), OfferRefusal.at >= t.c.queued_at))
    on_channel = select(func.coalesce(func.sum(OperatorLoad.held), 0)).where(
        OperatorLoad.operator_id == Operator.id, OperatorLoad.channel == t.c.channel).scalar_subquery()
    queue_of = select(Ticket.queue_id).where(Ticket.id == bindparam("ticket_id")).scalar_subquery()
    # The operator's texts and time come as stored: a decision converts only the rows it looks at.
    query = (select(Operator.id, member.level, cast(Operator.languages, String), cast(Operator.capacity, String),
                    type_coerce(Operator.last_assigned_at, String),
                    member.held.label("floor"), (member.held + _offered()).label("held"),
                    (on_channel + _offered(t.c.channel)).label("on_channel"),
                    *(t.c[name] for name in TICKET_COLUMNS), Queue.name)
             .select_from(operator_queues).join(Operator, Operator.id == member.operator_id)
             .join(t, t.c.id == bindparam("ticket_id")).join(Queue, Queue.id == t.c.queue_id)
             .where(member.queue_id == queue_of, t.c.queue_id == member.queue_id, assignable_row(t, bindparam("now")),
                    Operator.active.is_(True), Operator.status == ONLINE, ~refused.exists()))
    if grace:
        query = query.where(Operator.seen_at >= bindparam("seen_since"))
    if by_language:
        # Only speakers of the ticket's language, when it has one and is not relaxed: the others are
        # not eligible, and a non-English ticket would otherwise page past five of every six operators.
        query = query.where(or_(t.c.relaxed.is_(True), func.coalesce(t.c.language, "") == "",
                                _Speaks(Operator.languages, t.c.language)))
    if only_ids:
        query = query.where(member.operator_id.in_(bindparam("ids", expanding=True)))
    # ix_operator_queues_load_order / _turn_order: the turn is the epoch for "never", which sorts
    # where NULLS FIRST put it.
    query = query.order_by(member.level, *((member.held,) if order == "load" else ()), member.turn_at,
                           member.operator_id)
    if limited:
        query = query.offset(bindparam("offset")).limit(bindparam("limit"))
    # SKIP LOCKED: another process deciding the same ticket has it; this one leaves it (PostgreSQL only).
    return query.with_for_update(skip_locked=True, key_share=True, of=t) if lock else query


async def decision_page(session, ticket_id: int, now: datetime, grace_seconds: float, *, order: str,
                        lock: bool = False, offset: int = 0, limit: int | None = None, only_ids=None,
                        by_language: bool = False):
    """(ticket, queue name, operator rows) for deciding a ticket, or (None, None, []) when the ticket is not
    assignable now or its queue has nobody present who has not refused it.

    `session` is a session or a connection. The ticket is a DecidedTicket, locked (SKIP LOCKED) when
    asked. Each operator row starts with OPERATOR_COLUMNS values (more follow: ignore them):
    (id, level, languages, capacity, last_assigned_at, floor, held, held on the ticket's channel),
    languages, capacity and last_assigned_at as stored, for `languages()`, `capacity()` and `moment()`
    (a decision converts only the rows it looks at), in `order`:
    "load": level, tickets held (`floor`: without live offers), longest since last assigned, id;
    "turn": level, longest since last assigned, id (round robin). `held` adds live offers.
    `by_language`: only operators who speak the ticket's language (unless it has none or is relaxed).
    """
    query = _page_query(order, grace_seconds > 0, only_ids is not None, limit is not None, lock, by_language)
    params = {"ticket_id": ticket_id, "now": now}
    if grace_seconds > 0:
        params["seen_since"] = now - timedelta(seconds=grace_seconds)
    if only_ids is not None:
        params["ids"] = list(only_ids)
    if limit is not None:
        params.update(offset=offset, limit=limit)
    rows = (await session.execute(query, params)).all()
    if not rows:
        return None, None, []
    first = rows[0]
    return DecidedTicket(*first[OPERATOR_COLUMNS:-1]), first[-1], rows


# Operators share a few language lists and capacities: each stored text is parsed once (read-only results).
@lru_cache(maxsize=1024)
def languages(raw: str | None) -> frozenset[str]:
    """An operator's languages from the decision statement's text."""
    return frozenset(json.loads(raw) or ()) if raw else frozenset()


@lru_cache(maxsize=1024)
def capacity(raw: str | None):
    """An operator's own capacity per channel (read-only; empty: the default applies)."""
    return MappingProxyType(json.loads(raw) or {}) if raw else MappingProxyType({})


def moment(raw) -> datetime | None:
    """A time as the driver returned it, made what UTCDateTime makes of it: asyncpg gives aware
    datetimes, SQLite the text SQLAlchemy stored (ISO 8601, UTC without an offset)."""
    if raw is None or isinstance(raw, datetime):
        return raw
    try:
        return datetime.fromisoformat(raw + "+00:00")  # a quarter of the time of parse, then replace()
    except ValueError:  # text with an offset of its own
        value = datetime.fromisoformat(raw)
        return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


async def held_on(session, now: datetime, operator_id: int, channel: str) -> int:
    """Tickets one operator holds or is being offered on a channel (their capacity used there)."""
    query = select(_held(bindparam("channel"))).select_from(Operator).where(Operator.id == bindparam("operator_id"))
    return (await session.execute(query, {"now": now, "channel": channel, "operator_id": operator_id})).scalar_one()


async def loads(session, now: datetime, operator_ids=None, queue_id: int | None = None) -> dict[int, dict[str, int]]:
    """Tickets each operator holds or is being offered, per channel (the capacity they use).

    Held tickets come from the trigger-kept operator_loads (migration 0008), live offers from the
    offer index, so neither part scans the open tickets.
    """
    held = select(OperatorLoad.operator_id, OperatorLoad.channel, OperatorLoad.held).where(OperatorLoad.held > 0)
    offered = select(Ticket.offered_to_id, Ticket.channel, func.count()).where(
        Ticket.offered_to_id.is_not(None), Ticket.assignee_id.is_(None), Ticket.offer_expires_at > now
    ).group_by(Ticket.offered_to_id, Ticket.channel)
    if queue_id is not None:
        members = select(operator_queues.c.operator_id).where(operator_queues.c.queue_id == queue_id)
        held, offered = held.where(OperatorLoad.operator_id.in_(members)), offered.where(Ticket.offered_to_id.in_(members))
    if operator_ids is not None:
        held = held.where(OperatorLoad.operator_id.in_(list(operator_ids)))
        offered = offered.where(Ticket.offered_to_id.in_(list(operator_ids)))
    result: dict[int, dict[str, int]] = defaultdict(dict)
    for query in (held, offered):
        for op_id, channel, count in await session.execute(query):
            result[op_id][channel] = result[op_id].get(channel, 0) + count
    return result


async def session_operator(session, token_hash: str):
    """(id, status, role, console_language) of the operator a console session belongs to, or None."""
    return (await session.execute(
        select(Operator.id, Operator.status, Operator.role, Operator.console_language)
        .join(OperatorSession, OperatorSession.operator_id == Operator.id)
        .where(OperatorSession.token_hash == token_hash))).first()


async def unread_count(session, operator_id: int) -> int:
    return (await session.execute(select(func.count()).select_from(Notification).where(
        Notification.operator_id == operator_id, Notification.read_at.is_(None)))).scalar_one()


async def ticket_by_number(session, number: int) -> Ticket | None:
    return (await session.execute(select(Ticket).where(Ticket.number == number))).scalar_one_or_none()


async def operator_name(session, operator_id: int) -> str | None:
    return (await session.execute(select(Operator.display_name).where(Operator.id == operator_id))).scalar_one_or_none()


async def offered_ticket_id(session, number: int, operator_id: int) -> int | None:
    """The ticket with this number if it is being offered to the operator (an offer may come from a
    queue they do not work in: a supervisor's backup level)."""
    return (await session.execute(select(Ticket.id).where(Ticket.number == number, Ticket.offered_to_id == operator_id))
            ).scalar_one_or_none()


async def queue_names(session) -> dict[int, str]:
    """Queue id -> name, in name order."""
    return {qid: name for qid, name in await session.execute(select(Queue.id, Queue.name).order_by(Queue.name))}


async def refused_by(session, ticket_id: int, since: datetime | None) -> frozenset[int]:
    query = select(OfferRefusal.operator_id).where(OfferRefusal.ticket_id == ticket_id)
    if since is not None:
        query = query.where(OfferRefusal.at >= since)
    return frozenset(r[0] for r in await session.execute(query))


async def previous_operators(session, ticket: Ticket, window_seconds: float, now: datetime) -> tuple[int, ...]:
    """Sticky candidates: the client's last operator within the window, then their personal manager."""
    found: list[int] = []
    last = (await session.execute(
        select(Ticket.assignee_id).where(Ticket.client_id == ticket.client_id, Ticket.id != ticket.id,
                                         Ticket.assignee_id.is_not(None),
                                         Ticket.updated_at >= now - timedelta(seconds=window_seconds))
        .order_by(Ticket.updated_at.desc()).limit(1))).scalar_one_or_none()
    if last is not None:
        found.append(last)
    manager = (await session.execute(select(Client.manager_id).where(Client.id == ticket.client_id))).scalar_one_or_none()
    if manager is not None and manager not in found:
        found.append(manager)
    return tuple(found)


async def backlog_ids(session, queue_id: int, now: datetime, limit: int = 50, after: tuple | None = None) -> list[int]:
    """Assignable tickets of a queue in the order they are served: priority, then waiting time."""
    rows = await session.execute(
        select(Ticket.id).where(Ticket.queue_id == queue_id, assignable(now))
        .order_by(PRIORITY_ORDER.desc(), waiting_since(), Ticket.id).limit(limit))
    return [r[0] for r in rows]


async def first_reply_at(session, ticket_id: int) -> datetime | None:
    return (await session.execute(
        select(func.min(Message.created_at)).where(Message.ticket_id == ticket_id, Message.direction == "out",
                                                   Message.author_kind == "operator"))).scalar_one()


async def timeline(session, ticket: Ticket) -> list[TimelineEvent]:
    """A ticket's SLA timeline: hand-off, client messages, operator replies, resolutions, reopenings."""
    return (await timelines(session, [ticket]))[ticket.id]


async def timelines(session, tickets) -> dict[int, list[TimelineEvent]]:
    """`timeline` of several tickets with two queries in all (a burst of messages is synced at once)."""
    found: dict[int, list[TimelineEvent]] = {}
    for ticket in tickets:
        events = found[ticket.id] = []
        start = ticket.handed_off_at or ticket.routed_at
        if start is not None:
            events.append(TimelineEvent(start, START))
    if not found:
        return found
    rows = await session.execute(select(Message.ticket_id, Message.created_at, Message.direction, Message.author_kind)
                                 .where(Message.ticket_id.in_(list(found))))
    for ticket_id, at, direction, author in rows:
        if direction == "in" and author == "client":
            found[ticket_id].append(TimelineEvent(at, CLIENT))
        elif direction == "out" and author == "operator":
            found[ticket_id].append(TimelineEvent(at, REPLY))
    audits = await session.execute(select(AuditEvent.ticket_id, AuditEvent.at, AuditEvent.kind).where(
        AuditEvent.ticket_id.in_(list(found)), AuditEvent.kind.in_(("resolved", "reopened"))))
    for ticket_id, at, kind in audits:
        found[ticket_id].append(TimelineEvent(at, RESOLVE if kind == "resolved" else REOPEN))
    for ticket in tickets:
        if ticket.status in ("resolved", "closed"):
            found[ticket.id].append(TimelineEvent(ticket.resolved_at or ticket.updated_at, RESOLVE))
    return found


async def ticket_lights(session, ticket_ids: list[int]) -> dict[int, TicketSla]:
    if not ticket_ids:
        return {}
    rows = await session.execute(select(TicketSla).where(TicketSla.ticket_id.in_(ticket_ids)))
    return {r.ticket_id: r for r in rows.scalars()}


async def open_lights_per_queue(session, queue_ids) -> dict[int, list[TicketSla]]:
    """The stored lights of the open tickets of each queue."""
    rows = await session.execute(
        select(Ticket.queue_id, TicketSla).join(TicketSla, TicketSla.ticket_id == Ticket.id)
        .where(Ticket.status.in_(OPEN_STATUSES), Ticket.queue_id.in_(list(queue_ids) or [-1])))
    found: dict[int, list[TicketSla]] = defaultdict(list)
    for queue_id, sla in rows:
        found[queue_id].append(sla)
    return found


async def unread_notifications(session, operator_id: int, limit: int = 50) -> list[Notification]:
    rows = await session.execute(select(Notification).where(Notification.operator_id == operator_id,
                                                            Notification.read_at.is_(None))
                                 .order_by(Notification.id.desc()).limit(limit))
    return list(rows.scalars())


async def recent_notifications(session, operator_id: int, limit: int = 100) -> list[tuple[Notification, int | None]]:
    rows = await session.execute(
        select(Notification, Ticket.number).outerjoin(Ticket, Ticket.id == Notification.ticket_id)
        .where(Notification.operator_id == operator_id).order_by(Notification.id.desc()).limit(limit))
    return [tuple(r) for r in rows]


async def queue_ids_by_name(session) -> dict[str, int]:
    return {name: qid for qid, name in await session.execute(select(Queue.id, Queue.name))}


async def corrections(session) -> list[tuple[int, str, str, str, str, str]]:
    """(ticket id, decided queue, corrected queue, how, text, language) for every corrected routing decision.

    A "wrong queue" mark is stored on the decision. A transfer between queues counts when it
    happened before the first operator reply; the last such transfer names the right queue.
    """
    queue_names = {qid: name for name, qid in (await queue_ids_by_name(session)).items()}
    latest = select(func.max(RoutingDecision.id)).group_by(RoutingDecision.ticket_id)
    decisions = list((await session.execute(
        select(RoutingDecision).where(RoutingDecision.id.in_(latest)))).scalars())
    by_ticket = {d.ticket_id: d for d in decisions}
    replies = dict((await session.execute(
        select(Message.ticket_id, func.min(Message.created_at))
        .where(Message.direction == "out", Message.author_kind == "operator").group_by(Message.ticket_id))).all())
    moved: dict[int, str] = {}
    transfers = await session.execute(
        select(AuditEvent.ticket_id, AuditEvent.at, AuditEvent.data).where(AuditEvent.kind == "transferred")
        .order_by(AuditEvent.at, AuditEvent.id))
    for ticket_id, at, data in transfers:
        decision = by_ticket.get(ticket_id)
        if decision is None or at < decision.decided_at:
            continue
        first_reply = replies.get(ticket_id)
        to_queue = queue_names.get((data or {}).get("to_queue_id"))
        if to_queue and (first_reply is None or at <= first_reply):
            moved[ticket_id] = to_queue
    found = []
    for d in decisions:
        if d.correction == "wrong_queue" and d.corrected_queue:
            found.append((d.ticket_id, d.queue, d.corrected_queue, "wrong_queue", d.text, d.language))
        elif d.ticket_id in moved and moved[d.ticket_id] != d.queue:
            found.append((d.ticket_id, d.queue, moved[d.ticket_id], "transfer", d.text, d.language))
    return found


async def decisions_per_queue(session) -> dict[str, int]:
    rows = await session.execute(select(RoutingDecision.queue, func.count()).group_by(RoutingDecision.queue))
    return dict(rows.all())


async def latest_decision(session, ticket_id: int) -> RoutingDecision | None:
    return (await session.execute(select(RoutingDecision).where(RoutingDecision.ticket_id == ticket_id)
                                  .order_by(RoutingDecision.id.desc()).limit(1))).scalar_one_or_none()
