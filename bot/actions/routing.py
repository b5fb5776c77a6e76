"""Text -> queue in the database: route a handed-off ticket, store the decision, learn from corrections.

A ticket is the router's once it is handed off (`tickets.handed_off_at`, set by self-service, or at
once when the bot is off) and until `routed_at` is set. The listener routes it right after the
hand-off commits; the worker's pass routes whatever a crash left between the two.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update

from bot.access import Viewer
from bot.actions.context import Desk, unit_of_work
from bot.actions.segments import routing_priority
from bot.actions.sla import sync_sla_many
from bot.actions.tickets import transfer_ticket
from bot.errors import InvalidInput, NotFound
from bot.events import TicketChanged, TicketHandedOff
from bot.routing_settings import self_service_holds_new_tickets
from bot.storage import routing_queries as rq
from bot.storage.models import (
    AuditEvent, ClientSegment, Message, Notification, Queue, RoutingDecision, Ticket, utcnow,
)
from router.routing import TicketRouter
from router.rules import Message as Routed

logger = logging.getLogger(__name__)
TEXT_LIMIT = 2000  # the first client messages up to this length are what the router reads
BATCH = 50  # tickets routed in one transaction
ROUNDS = 3  # decisions again for tickets that changed between the read and the write


async def hand_off_ticket(desk: Desk, ticket_id: int, reason: str = "", now: datetime | None = None) -> bool:
    """Self-service lets go of a ticket: mark it durably, then tell the router (False: it was already handed off)."""
    now = now or utcnow()
    async with unit_of_work(desk) as unit:
        ticket = await unit.session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound(f"ticket {ticket_id} not found")
        if ticket.handed_off_at is not None:
            return False
        ticket.handed_off_at = now
        unit.session.add(AuditEvent(kind="handed_off", ticket_id=ticket_id, at=now, data={"reason": reason}))
        unit.events.append(TicketHandedOff(ticket_id=ticket_id, reason=reason))
        return True


def _waiting_for_router(desk: Desk):
    condition = Ticket.routed_at.is_(None) & Ticket.status.in_(rq.ASSIGNABLE_STATUSES + ("waiting",))
    if self_service_holds_new_tickets(desk.settings):
        condition = condition & Ticket.handed_off_at.is_not(None)
    return condition


async def tickets_to_route(desk: Desk, limit: int = 200) -> list[int]:
    """Handed-off tickets the router has not placed yet (oldest first)."""
    async with desk.sessions() as s:
        rows = await s.execute(select(Ticket.id).where(_waiting_for_router(desk)).order_by(Ticket.id).limit(limit))
        return [r[0] for r in rows]


async def _texts_of(s, ticket_ids: list[int]) -> dict[int, str]:
    """The router's reading of each ticket: its first five client messages, joined, up to TEXT_LIMIT."""
    numbered = (select(Message.ticket_id, Message.text,
                       func.row_number().over(partition_by=Message.ticket_id, order_by=Message.id).label("n"))
                .where(Message.ticket_id.in_(ticket_ids), Message.direction == "in", Message.author_kind == "client")
                .subquery())
    parts: dict[int, list[str]] = {i: [] for i in ticket_ids}
    for ticket_id, text in await s.execute(select(numbered.c.ticket_id, numbered.c.text).where(numbered.c.n <= 5)
                                           .order_by(numbered.c.ticket_id, numbered.c.n)):
        if text:
            parts[ticket_id].append(text)
    return {i: "\n".join(texts)[:TEXT_LIMIT] for i, texts in parts.items()}


@dataclass(frozen=True)
class _Facts:
    """Everything a decision is made from; the write stores it only if the locked ticket still reads the same."""

    text: str
    channel: str
    language: str | None
    handed_off_at: datetime | None


async def _waiting_facts(s, desk: Desk, ticket_ids: list[int], lock: bool) -> dict[int, tuple[Ticket, _Facts]]:
    """The tickets among `ticket_ids` that still wait for the router (locked, SKIP LOCKED, when asked)."""
    query = select(Ticket).where(Ticket.id.in_(ticket_ids), _waiting_for_router(desk)).order_by(Ticket.id)
    if lock:
        query = query.with_for_update(skip_locked=True, key_share=True)
    tickets = list((await s.execute(query)).scalars())
    texts = await _texts_of(s, [t.id for t in tickets]) if tickets else {}
    return {t.id: (t, _Facts(texts[t.id], t.channel, t.language, t.handed_off_at)) for t in tickets}


async def route_ticket(desk: Desk, router: TicketRouter, ticket_id: int, now: datetime | None = None) -> RoutingDecision | None:
    """Decide the ticket's queue, store the decision with its reason, move the ticket and start its SLA clocks."""
    return (await route_tickets(desk, router, [ticket_id], now)).get(ticket_id)


async def route_tickets(desk: Desk, router: TicketRouter, ticket_ids, now: datetime | None = None) -> dict[int, RoutingDecision]:
    """`route_ticket` for several tickets: one read, one classifier call, one transaction per BATCH.

    The classifier runs between the read and the transaction, so no writer waits for it (SQLite has
    one write lock). A ticket whose text, channel, language or hand-off changed in between is decided
    again from what the transaction read, up to ROUNDS times; one another process took meanwhile is left.
    """
    now = now or utcnow()
    ids = sorted(set(ticket_ids))
    placed: dict[int, RoutingDecision] = {}
    for start in range(0, len(ids), BATCH):
        todo = ids[start:start + BATCH]
        for _round in range(ROUNDS):
            async with desk.sessions() as s:
                found = await _waiting_facts(s, desk, todo, lock=False)
            if not found:
                break
            facts = {i: f for i, (_t, f) in found.items()}
            decisions = router.route_each([Routed.of(f.text, channel=f.channel, language=f.language,
                                                      now=f.handed_off_at or now) for f in facts.values()])
            written, todo = await _store_decisions(desk, dict(zip(facts, zip(facts.values(), decisions))), now)
            placed.update(written)
            if not todo:
                break
    return placed


async def _store_decisions(desk: Desk, decided: dict, now: datetime) -> tuple[dict[int, RoutingDecision], list[int]]:
    """Write the decisions of the tickets that still wait and read as decided; returns (written, to decide again)."""
    async with unit_of_work(desk) as unit:
        s = unit.session
        current = await _waiting_facts(s, desk, list(decided), lock=True)
        again = [i for i, (_t, facts) in current.items() if facts != decided[i][0]]
        ready = [(ticket, facts, decided[i][1]) for i, (ticket, facts) in current.items() if facts == decided[i][0]]
        if not ready:
            return {}, again
        queues = list((await s.execute(select(Queue).where(
            Queue.name.in_({d.queue for _t, _f, d in ready}) | Queue.id.in_({t.queue_id for t, _f, _d in ready})))).scalars())
        by_name, by_id = {q.name: q for q in queues}, {q.id: q for q in queues}
        # routing_priority reads the client's standing with session.get: load them all at once beforehand.
        standing = {c.client_id for c in (await s.execute(select(ClientSegment).where(
            ClientSegment.client_id.in_({t.client_id for t, _f, _d in ready})))).scalars()}
        rows, audits = [], []
        for ticket, facts, decision in ready:
            queue = by_name.get(decision.queue)
            if queue is None:  # a queue the config names but the database lacks: leave it where it is
                logger.warning("router chose %r, which is not in the database; ticket %s stays in its queue",
                               decision.queue, ticket.id)
                queue = by_id[ticket.queue_id]
            ticket.queue_id = queue.id
            if ticket.client_id in standing:  # before the SLA clocks start
                ticket.priority, raised = await routing_priority(s, desk.settings, ticket)
            else:
                raised = ""
            reason = f"{decision.reason}; {raised}" if raised else decision.reason
            ticket.handed_off_at = ticket.handed_off_at or now
            ticket.routed_at = ticket.queued_at = ticket.updated_at = now
            ticket.version += 1
            rows.append(dict(ticket_id=ticket.id, queue=queue.name, reason=reason, confidence=decision.confidence,
                             rule=decision.rule, label=decision.label, channel=ticket.channel,
                             language=ticket.language, text=facts.text, decided_at=now))
            audits.append(dict(kind="routed", ticket_id=ticket.id, at=now,
                               data={"queue": queue.name, "reason": reason, "confidence": round(decision.confidence, 4),
                                     "rule": decision.rule, "priority": ticket.priority}))
        await s.flush()
        stored = (await s.execute(insert(RoutingDecision).returning(RoutingDecision, sort_by_parameter_order=True),
                                  rows)).scalars().all()
        await s.execute(insert(AuditEvent), audits)
        await sync_sla_many(unit, desk.settings, [t for t, _f, _d in ready], now)
        unit.events.extend(TicketChanged(ticket_id=t.id, what="routed") for t, _f, _d in ready)
        return {row.ticket_id: row for row in stored}, again


async def mark_wrong_queue(desk: Desk, viewer: Viewer, ticket_id: int, queue: str, note: str = "",
                           now: datetime | None = None) -> None:
    """An operator says the router chose wrongly: the ticket moves, and its text becomes a labelled example."""
    now = now or utcnow()
    async with desk.sessions() as s:
        if (await s.execute(select(Queue.id).where(Queue.name == queue))).first() is None:
            raise InvalidInput("there is no queue {queue!r}", queue=queue)
        ticket = await s.get(Ticket, ticket_id)
        current = (await s.get(Queue, ticket.queue_id)).name if ticket else None
    if ticket is None or not viewer.can_see_ticket(ticket.queue_id, ticket.assignee_id):
        raise NotFound(f"ticket {ticket_id} not found")
    if current != queue:
        await transfer_ticket(desk, viewer, ticket_id, queue=queue, note=note)
    async with unit_of_work(desk) as unit:
        decision = await rq.latest_decision(unit.session, ticket_id)
        if decision is None:
            raise InvalidInput("the router did not place this ticket, so there is no decision to correct")
        decision.corrected_queue, decision.correction = queue, "wrong_queue"
        decision.corrected_at, decision.corrected_by = now, viewer.id
        unit.session.add(AuditEvent(kind="wrong_queue", ticket_id=ticket_id, operator_id=viewer.id, at=now,
                                    data={"decided": decision.queue, "right": queue}))
        unit.events.append(TicketChanged(ticket_id=ticket_id, what="wrong_queue"))


async def mark_alerts_read(desk: Desk, operator_id: int, now: datetime | None = None) -> None:
    """The operator has seen their alerts: every unread one is marked read."""
    async with unit_of_work(desk) as unit:
        await unit.session.execute(update(Notification).where(
            Notification.operator_id == operator_id, Notification.read_at.is_(None)).values(read_at=now or utcnow()))
