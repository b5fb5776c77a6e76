"""The SLA sync of a transaction of its own (the listeners' and the batch's), in Core rows and statements.

A burst of follow-ups syncs every few milliseconds; loading each ticket, its light and its steps as
ORM instances and flushing them cost more than computing the clocks. Here each read is one
statement built once and each kind of write one executemany. Callers inside a larger transaction
that holds ORM rows of these tables (firing a step, routing, a priority change) keep the ORM path in
bot/actions/sla.py; both decide with the same functions below.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, select, update

from bot.config import Settings
from bot.routing_settings import sla_calendar, sla_targets
from bot.storage import routing_queries as rq
from bot.storage.bulk import upsert
from bot.storage.models import Queue, SlaDeadline, Ticket, TicketSla
from router.sla import LIGHTS, RED, YELLOW, SlaState, clocks_of, light, replay

STATE_COLUMNS = ("seen", "seen_at", "started_at", "awaiting_at", "running_since", "answered", "resolved", "spent")
LIGHT_COLUMNS = ("level", "clock", "paused", "updated_at", "yellow_at", "red_at")
_SLA, _STEPS = TicketSla.__table__, SlaDeadline.__table__


def stored_state(row, ticket, now: datetime) -> SlaState | None:
    """The state stored on the light row if it is good for this sync, else None (replay the timeline)."""
    if row is None or row.seen != row.events or row.seen_at is None or row.seen_at > now:
        return None
    if row.started_at != (ticket.handed_off_at or ticket.routed_at):
        return None
    return SlaState(started=row.started_at, resolved=row.resolved, awaiting=row.awaiting_at, answered=row.answered,
                    spent=[(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in row.spent or ()],
                    since=row.running_since)


def state_values(row, state: SlaState, timeline: list, now: datetime) -> dict | None:
    """What to keep of a replayed state: good for the timeline changes counted when the row was read
    (its `events`). None when it cannot be kept: no row yet (its count may have missed a message of a
    concurrent transaction) or events after `now` (a later sync must see them)."""
    if row is None or state.started is None or any(e.at > now for e in timeline):
        return None
    return {"seen": row.events, "seen_at": max(e.at for e in timeline), "started_at": state.started,
            "awaiting_at": state.awaiting, "running_since": state.since, "answered": state.answered,
            "resolved": state.resolved, "spent": [[a.isoformat(), b.isoformat()] for a, b in state.spent]}


def light_values(found: list, now: datetime) -> dict:
    """The light row's values from freshly computed clocks."""
    shown = light(found)
    yellow = min((c.yellow_at for c in found if c.running and c.yellow_at), default=None)
    return {"level": shown.level, "clock": shown.clock or "", "paused": shown.paused, "updated_at": now,
            "yellow_at": yellow, "red_at": shown.red_at}


def wanted_steps(found: list, now: datetime) -> dict[str, tuple[str, int, datetime, bool]]:
    """key -> (clock, level, due, movable): one pending step per yellow and red still ahead."""
    wanted = {}
    for c in found:
        if c.running:
            for level, due in ((YELLOW, c.yellow_at), (RED, c.red_at)):
                if due is not None:
                    wanted[f"{c.key}:{LIGHTS[level]}"] = (c.name, level, due, True)
    # Paused clocks already past a step still owe it (e.g. resolution breached while waiting).
    for c in found:
        if not c.running:
            for level in (YELLOW, RED):
                if c.level >= level:
                    wanted.setdefault(f"{c.key}:{LIGHTS[level]}", (c.name, level, now, False))
    return wanted


def _values(table, columns, key: str):
    """UPDATE table SET each column from a b_<column> parameter WHERE key = b_<key> (executemany)."""
    return (update(table).where(table.c[key] == bindparam("b_" + key))
            .values({name: bindparam("b_" + name, type_=table.c[name].type) for name in columns}))


def _ids(column):
    return column.in_(bindparam("ids", expanding=True))


_TICKETS = (select(Ticket.id, Ticket.status, Ticket.queue_id, Ticket.priority, Ticket.handed_off_at, Ticket.routed_at)
            .where(_ids(Ticket.id), Ticket.routed_at.is_not(None)).order_by(Ticket.id))
_QUEUE_NAMES = select(Queue.id, Queue.name).where(_ids(Queue.id))
_LIGHTS = select(_SLA).where(_ids(_SLA.c.ticket_id))
_DEADLINES = select(_STEPS.c.id, _STEPS.c.ticket_id, _STEPS.c.key, _STEPS.c.state, _STEPS.c.due_at).where(
    _ids(_STEPS.c.ticket_id))
_SET_LIGHT = _values(_SLA, LIGHT_COLUMNS, "ticket_id")
_SET_STATE = _values(_SLA, STATE_COLUMNS, "ticket_id")
_MOVE_STEP = _values(_STEPS, ("due_at",), "id")
_DROP_STEPS = delete(_STEPS).where(_ids(_STEPS.c.id))
_CLEAR_STEPS = delete(_STEPS).where(_ids(_STEPS.c.ticket_id), _STEPS.c.state == "pending")
_CLEAR_LIGHTS = delete(_SLA).where(_ids(_SLA.c.ticket_id))


async def sync_rows(s, settings: Settings, ticket_ids: list[int], now: datetime) -> None:
    """Recompute the clocks of routed tickets and store lights and pending steps; resolved ones have none.

    The light rows (with `events`) are read before any timeline: a message committed after that read
    moves `events` past the `seen` written here, so a state missing it is never taken as good.
    """
    tickets = (await s.execute(_TICKETS, {"ids": ticket_ids})).all()
    done = [t.id for t in tickets if t.status in ("resolved", "closed")]
    if done:
        await s.execute(_CLEAR_STEPS, {"ids": done})
        await s.execute(_CLEAR_LIGHTS, {"ids": done})
    tickets = [t for t in tickets if t.status not in ("resolved", "closed")]
    if not tickets:
        return
    ids = [t.id for t in tickets]
    queues = dict((await s.execute(_QUEUE_NAMES, {"ids": list({t.queue_id for t in tickets})})).all())
    rows = {r.ticket_id: r for r in await s.execute(_LIGHTS, {"ids": ids})}
    states = {t.id: stored_state(rows.get(t.id), t, now) for t in tickets}
    stale = [t for t in tickets if states[t.id] is None]
    events = await rq.timelines(s, stale) if stale else {}
    existing: dict[int, dict] = {i: {} for i in ids}
    for step in await s.execute(_DEADLINES, {"ids": ids}):
        existing[step.ticket_id][step.key] = step
    calendar, share = sla_calendar(settings), settings.router.sla.yellow_share
    new_lights, lights, kept, drops, adds, moves = [], [], [], [], [], []
    for ticket in tickets:
        row, state = rows.get(ticket.id), states[ticket.id]
        if state is None:
            timeline = events[ticket.id]
            state = replay([e for e in timeline if e.at <= now])
            values = state_values(row, state, timeline, now)
            if values is not None:
                kept.append({"b_ticket_id": ticket.id} | {"b_" + k: v for k, v in values.items()})
        found = clocks_of(state, sla_targets(settings, queues[ticket.queue_id], ticket.priority), calendar, now, share)
        shown = light_values(found, now)
        if row is None:
            new_lights.append({"ticket_id": ticket.id} | shown)
        else:
            lights.append({"b_ticket_id": ticket.id} | {"b_" + k: v for k, v in shown.items()})
        wanted = wanted_steps(found, now)
        steps = existing[ticket.id]
        drops += [step.id for key, step in steps.items() if step.state == "pending" and key not in wanted]
        for key, (clock, level, due, movable) in wanted.items():
            step = steps.get(key)
            if step is None:
                adds.append({"ticket_id": ticket.id, "key": key, "clock": clock, "level": level, "due_at": due,
                             "state": "pending"})
            elif movable and step.state == "pending" and step.due_at != due:
                moves.append({"b_id": step.id, "b_due_at": due})
    # Two syncs of one ticket may run at once (a listener and the reconcile pass, or two processes):
    # a light stored meanwhile takes this sync's values, a step stored meanwhile (same key) stays.
    for statement, params in ((upsert(s, _SLA, ("ticket_id",), LIGHT_COLUMNS), new_lights), (_SET_LIGHT, lights),
                              (_SET_STATE, kept), (upsert(s, _STEPS, ("ticket_id", "key")), adds),
                              (_MOVE_STEP, moves)):
        if params:
            await s.execute(statement, params)
    if drops:
        await s.execute(_DROP_STEPS, {"ids": drops})
