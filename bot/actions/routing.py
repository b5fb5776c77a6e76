"""Text -> queue in the database: route a handed-off ticket, store the decision, learn from corrections.

A ticket is the router's once it is handed off (`tickets.handed_off_at`, set by self-service, or at
once when the bot is off) and until `routed_at` is set. The listener routes it right after the
hand-off commits; the worker's pass routes whatever a crash left between the two.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update

from bot.access import Viewer
from bot.actions.context import Desk, unit_of_work
from bot.actions.segments import routing_priority
from bot.actions.sla import sync_sla
from bot.actions.tickets import transfer_ticket
from bot.errors import InvalidInput, NotFound
from bot.events import TicketChanged, TicketHandedOff
from bot.routing_settings import self_service_holds_new_tickets
from bot.storage import routing_queries as rq
from bot.storage.models import AuditEvent, Message, Notification, Queue, RoutingDecision, Ticket, utcnow
from router.routing import TicketRouter

logger = logging.getLogger(__name__)
TEXT_LIMIT = 2000  # the first client messages up to this length are what the router reads


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


async def _text_of(s, ticket_id: int) -> str:
    texts = await s.execute(select(Message.text).where(Message.ticket_id == ticket_id, Message.direction == "in",
                                                       Message.author_kind == "client").order_by(Message.id).limit(5))
    joined = "\n".join(t for (t,) in texts if t)
    return joined[:TEXT_LIMIT]


async def route_ticket(desk: Desk, router: TicketRouter, ticket_id: int, now: datetime | None = None) -> RoutingDecision | None:
    """Decide the ticket's queue, store the decision with its reason, move the ticket and start its SLA clocks."""
    now = now or utcnow()
    async with unit_of_work(desk) as unit:
        s = unit.session
        ticket = (await s.execute(select(Ticket).where(Ticket.id == ticket_id, _waiting_for_router(desk))
                                  .with_for_update(skip_locked=True))).scalar_one_or_none()
        if ticket is None:
            return None
        text = await _text_of(s, ticket.id)
        decision = router.route(text, channel=ticket.channel, language=ticket.language, now=ticket.handed_off_at or now)
        queue = (await s.execute(select(Queue).where(Queue.name == decision.queue))).scalar_one_or_none()
        if queue is None:  # a queue the config names but the database lacks: leave it where it is
            logger.warning("router chose %r, which is not in the database; ticket %s stays in its queue", decision.queue, ticket.id)
            queue = await s.get(Queue, ticket.queue_id)
        ticket.queue_id = queue.id
        ticket.priority, raised = await routing_priority(s, desk.settings, ticket)  # before the SLA clocks start
        reason = f"{decision.reason}; {raised}" if raised else decision.reason
        ticket.handed_off_at = ticket.handed_off_at or now
        ticket.routed_at = ticket.queued_at = ticket.updated_at = now
        ticket.version += 1
        row = RoutingDecision(ticket_id=ticket.id, queue=queue.name, reason=reason, confidence=decision.confidence,
                              rule=decision.rule, label=decision.label, channel=ticket.channel, language=ticket.language,
                              text=text, decided_at=now)
        s.add(row)
        s.add(AuditEvent(kind="routed", ticket_id=ticket.id, at=now,
                         data={"queue": queue.name, "reason": reason, "confidence": round(decision.confidence, 4),
                               "rule": decision.rule, "priority": ticket.priority}))
        await s.flush()
        await sync_sla(unit, desk.settings, ticket, now)
        unit.events.append(TicketChanged(ticket_id=ticket.id, what="routed"))
        return row


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
