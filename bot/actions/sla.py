"""SLA in the database: each yellow and red step is a row with a due time; one worker loop takes due rows.

The clocks are recomputed from the ticket's timeline whenever something happens to it and again
right before a step fires, so a lost event, a restart or a clock jump never fires a wrong step.
After downtime a ticket may owe several steps: only the highest fires, the rest are recorded as
passed over (`skipped`), so supervisors are not flooded.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, or_, select

from bot.actions.context import Desk, Unit, unit_of_work
from bot.config import Settings
from bot.events import TicketChanged
from bot.routing_settings import queue_settings, sla_calendar, sla_targets
from bot.storage import routing_queries as rq
from bot.storage.models import (
    AuditEvent, Notification, Operator, Queue, SlaDeadline, Ticket, TicketSla, operator_queues, utcnow,
)
from bot.texts import N_, Text
from router.assign import bump_priority
from bot.actions.sla_rows import light_values, state_values, stored_state, sync_rows, wanted_steps
from router.sla import LIGHTS, RED, YELLOW, clocks_of, escalations_due, replay, to_fire

logger = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
SYNC_BATCH = 200  # tickets synced in one transaction
CLOCK_NAMES = {"first_response": N_("first response"), "next_response": N_("next response"), "resolution": N_("resolution")}
# An alert is stored as a Text (msgid and values), so each supervisor reads it in their console language.
ALERTS = {(RED, False): N_("#{number} is red: {clock} target reached in {queue} — {subject}"),
          (RED, True): N_("#{number} is red: {clock} target reached in {queue} ({actions}) — {subject}"),
          (YELLOW, False): N_("#{number} is yellow: {clock} target nearly used in {queue} — {subject}"),
          (YELLOW, True): N_("#{number} is yellow: {clock} target nearly used in {queue} ({actions}) — {subject}")}


async def sync_sla(unit: Unit, settings: Settings, ticket: Ticket, now: datetime) -> list:
    """Recompute the ticket's clocks; store its light and one pending row per step still ahead."""
    return (await _sync(unit.session, settings, [ticket], now))[ticket.id]


# populate_existing: `events` moves under a row this session may have loaded earlier (triggers).
_LIGHTS = (select(TicketSla).where(TicketSla.ticket_id.in_(bindparam("ids", expanding=True)))
           .execution_options(populate_existing=True))
_DEADLINES = select(SlaDeadline).where(SlaDeadline.ticket_id.in_(bindparam("ids", expanding=True)))
_QUEUE_NAMES = select(Queue.id, Queue.name).where(Queue.id.in_(bindparam("ids", expanding=True)))


async def sync_sla_many(unit: Unit, settings: Settings, tickets: list[Ticket], now: datetime) -> None:
    """`sync_sla` for several tickets, reading what all of them need in a few queries."""
    if tickets:
        await _sync(unit.session, settings, tickets, now)


async def _sync(s, settings: Settings, tickets: list[Ticket], now: datetime) -> dict[int, list]:
    """bot/actions/sla_rows.py's sync_rows on ORM rows, for callers whose transaction holds some of them."""
    ids = [t.id for t in tickets]
    queues = dict((await s.execute(_QUEUE_NAMES, {"ids": list({t.queue_id for t in tickets})})).all())
    rows = {r.ticket_id: r for r in (await s.execute(_LIGHTS, {"ids": ids})).scalars()}
    states = {t.id: stored_state(rows.get(t.id), t, now) for t in tickets}
    stale = [t for t in tickets if states[t.id] is None]
    events = await rq.timelines(s, stale) if stale else {}
    existing: dict[int, dict[str, SlaDeadline]] = {i: {} for i in ids}
    for d in (await s.execute(_DEADLINES, {"ids": ids})).scalars():
        existing[d.ticket_id][d.key] = d
    calendar = sla_calendar(settings)
    found_all = {}
    for ticket in tickets:
        row = rows.get(ticket.id)
        state = states[ticket.id]
        if state is None:
            timeline = events[ticket.id]
            state = replay([e for e in timeline if e.at <= now])
            for name, value in (state_values(row, state, timeline, now) or {}).items():
                setattr(row, name, value)
        targets = sla_targets(settings, queues[ticket.queue_id], ticket.priority)
        found = found_all[ticket.id] = clocks_of(state, targets, calendar, now, settings.router.sla.yellow_share)
        await _store(s, ticket.id, found, now, row, existing[ticket.id])
    return found_all


async def _store(s, ticket_id: int, found: list, now: datetime, row: TicketSla | None,
                 existing: dict[str, SlaDeadline]) -> None:
    """Write the ticket's light and its pending steps from freshly computed clocks."""
    if row is None:
        row = TicketSla(ticket_id=ticket_id)
        s.add(row)
    for name, value in light_values(found, now).items():
        setattr(row, name, value)
    wanted = wanted_steps(found, now)
    for key, deadline in existing.items():
        if deadline.state == "pending" and key not in wanted:
            await s.delete(deadline)
    for key, (clock, level, due, movable) in wanted.items():
        deadline = existing.get(key)
        if deadline is None:
            s.add(SlaDeadline(ticket_id=ticket_id, key=key, clock=clock, level=level, due_at=due, state="pending"))
        elif movable and deadline.state == "pending" and deadline.due_at != due:
            deadline.due_at = due


async def sync_ticket_sla(desk: Desk, ticket_id: int, now: datetime | None = None) -> None:
    """After something happened to a ticket (a message, a reply, a resolution, a move)."""
    now = now or utcnow()
    async with unit_of_work(desk) as unit:
        await sync_rows(unit.session, desk.settings, [ticket_id], now)


async def sync_tickets_sla(desk: Desk, ticket_ids, now: datetime | None = None) -> None:
    """`sync_ticket_sla` for several tickets in one transaction and a few queries (a burst of client messages
    costs one commit, not one per message).

    Tickets go in id order, so two processes syncing overlapping sets take row locks in the same
    order; if the shared transaction fails, each ticket is synced again on its own.
    """
    ids = sorted(set(ticket_ids))
    if len(ids) > SYNC_BATCH:  # keep each transaction and IN list modest
        for start in range(0, len(ids), SYNC_BATCH):
            await sync_tickets_sla(desk, ids[start:start + SYNC_BATCH], now)
        return
    if len(ids) <= 1:
        for ticket_id in ids:
            await sync_ticket_sla(desk, ticket_id, now)
        return
    now = now or utcnow()
    try:
        async with unit_of_work(desk) as unit:
            await sync_rows(unit.session, desk.settings, ids, now)
    except Exception:
        logger.info("a shared SLA sync of %d tickets failed; syncing them one by one", len(ids), exc_info=True)
        for ticket_id in ids:
            await sync_ticket_sla(desk, ticket_id, now)


async def _clear(unit: Unit, ticket_id: int) -> None:
    await unit.session.execute(delete(SlaDeadline).where(SlaDeadline.ticket_id == ticket_id, SlaDeadline.state == "pending"))
    await unit.session.execute(delete(TicketSla).where(TicketSla.ticket_id == ticket_id))


async def reconcile(desk: Desk, now: datetime | None = None, batch: int = 200) -> int:
    """Recompute tickets that changed after their light was computed (a listener lost to a crash)."""
    now = now or utcnow()
    async with desk.sessions() as s:
        ids = [r[0] for r in await s.execute(
            select(Ticket.id).outerjoin(TicketSla, TicketSla.ticket_id == Ticket.id)
            .where(Ticket.routed_at.is_not(None),
                   or_(TicketSla.ticket_id.is_(None) & Ticket.status.in_(rq.OPEN_STATUSES),
                       Ticket.updated_at > TicketSla.updated_at, Ticket.last_message_at > TicketSla.updated_at))
            .limit(batch))]
    await sync_tickets_sla(desk, ids, now)
    return len(ids)


async def _claim(desk: Desk, now: datetime, batch: int) -> list[int]:
    async with unit_of_work(desk) as unit:
        rows = list((await unit.session.execute(
            select(SlaDeadline).where(SlaDeadline.state == "pending", SlaDeadline.due_at <= now,
                                      or_(SlaDeadline.lease_until.is_(None), SlaDeadline.lease_until <= now))
            .order_by(SlaDeadline.due_at).limit(batch).with_for_update(skip_locked=True, key_share=True))).scalars())
        for row in rows:
            row.lease_until = now + LEASE  # retaken after the lease if this process dies
        return sorted({row.ticket_id for row in rows})


async def fire_due(desk: Desk, now: datetime | None = None, batch: int = 100) -> int:
    """Take due steps, recompute each ticket's clocks, and fire the highest step owed per ticket."""
    now = now or utcnow()
    fired = 0
    for ticket_id in await _claim(desk, now, batch):
        async with unit_of_work(desk) as unit:
            s = unit.session
            ticket = (await s.execute(select(Ticket).where(Ticket.id == ticket_id)
                                      .with_for_update(key_share=True))).scalar_one_or_none()
            if ticket is None:
                continue
            if ticket.status in ("resolved", "closed"):
                await _clear(unit, ticket.id)
                continue
            found = await sync_sla(unit, desk.settings, ticket, now)
            await s.flush()
            rows = {d.key: d for d in (await s.execute(select(SlaDeadline).where(SlaDeadline.ticket_id == ticket.id))).scalars()}
            done = [k for k, d in rows.items() if d.state in ("fired", "skipped")]
            top, passed = to_fire(escalations_due(found, done))
            for step in passed:
                _mark(s, rows, ticket.id, step, "skipped", now)
            if top is not None:
                _mark(s, rows, ticket.id, top, "fired", now)
                await _escalate(unit, desk.settings, ticket, top, now)
                fired += 1
            for row in rows.values():  # due rows the recomputation no longer owes wait for their new time
                if row.state == "pending":
                    row.lease_until = None
    return fired


def _mark(s, rows: dict, ticket_id: int, step, state: str, now: datetime) -> None:
    row = rows.get(step.key)
    if row is None:
        row = SlaDeadline(ticket_id=ticket_id, key=step.key, clock=step.clock, level=step.level, due_at=now)
        s.add(row)
        rows[step.key] = row
    row.state, row.fired_at, row.lease_until = state, now, None


async def _escalate(unit: Unit, settings: Settings, ticket: Ticket, step, now: datetime) -> None:
    """The configured actions of a yellow or red step: notify supervisors, raise priority, overflow."""
    s = unit.session
    queue = (await s.execute(select(Queue.name).where(Queue.id == ticket.queue_id))).scalar_one()
    actions = settings.router.sla.on_red if step.level == RED else settings.router.sla.on_yellow
    colour = LIGHTS[step.level]
    done, shown = [], []  # what was done, for the audit log and for the alert
    if "raise_priority" in actions and bump_priority(ticket.priority) != ticket.priority:
        ticket.priority = bump_priority(ticket.priority)
        done.append(f"priority {ticket.priority}")
        shown.append(Text(N_("priority {priority}"), {"priority": Text(ticket.priority)}))
    overflow = queue_settings(settings, queue).overflow_queue
    if "overflow" in actions and overflow and ticket.assignee_id is None:
        target = (await s.execute(select(Queue.id).where(Queue.name == overflow))).scalar_one()
        ticket.queue_id, ticket.queued_at, ticket.relaxed = target, now, False
        ticket.offered_to_id, ticket.offer_expires_at = None, None
        done.append(f"moved to {overflow}")
        shown.append(Text(N_("moved to {queue}"), {"queue": overflow}))
    ticket.version += 1
    ticket.updated_at = now
    if "notify" in actions:
        clock = CLOCK_NAMES.get(step.clock)
        text = Text(ALERTS[(step.level, bool(shown))], {
            "number": ticket.number, "clock": Text(clock) if clock else step.clock, "queue": queue,
            "actions": shown, "subject": ticket.subject[:80]}).dumps()
        for operator_id in await supervisors_of(s, ticket.queue_id):
            s.add(Notification(operator_id=operator_id, ticket_id=ticket.id, kind=f"sla_{colour}", text=text, created_at=now))
        done.append("supervisors notified")
    s.add(AuditEvent(kind=f"sla_{colour}", ticket_id=ticket.id, at=now,
                     data={"clock": step.clock, "key": step.key, "actions": done}))
    unit.events.append(TicketChanged(ticket_id=ticket.id, what=f"sla_{colour}"))
    await s.flush()
    await sync_sla(unit, settings, ticket, now)  # priority and queue decide the targets


async def supervisors_of(s, queue_id: int) -> list[int]:
    """Supervisors and managers who work in the queue; admins when the queue has none."""
    rows = [r[0] for r in await s.execute(
        select(Operator.id).join(operator_queues, operator_queues.c.operator_id == Operator.id)
        .where(operator_queues.c.queue_id == queue_id, Operator.active.is_(True),
               Operator.role.in_(("supervisor", "manager"))))]
    if rows:
        return rows
    return [r[0] for r in await s.execute(select(Operator.id).where(Operator.active.is_(True), Operator.role == "admin"))]


async def next_due(desk: Desk) -> datetime | None:
    async with desk.sessions() as s:
        return (await s.execute(select(func.min(SlaDeadline.due_at)).where(SlaDeadline.state == "pending"))).scalar_one()
