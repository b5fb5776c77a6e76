"""Routing in the console: presence, offers, "wrong queue", SLA lights with time left, alerts, the transfer table."""
from __future__ import annotations

import re
from datetime import datetime

from aiohttp import web
from bot.actions import assignment, routing
from bot.actions.operators import token_hash
from bot.console.auth import SESSION_COOKIE, Visit, operator_page
from bot.console.language import CHOSEN_LANGUAGE
from bot.console.layout import N_, ROUTING_HEADER, error_page, error_text, not_found, page, say, texts
from bot.console.login import see_other
from bot.console.ticket_page import show_ticket
from bot.errors import InvalidInput, NotFound
from bot.storage import queries
from bot.storage import routing_queries as rq
from bot.storage.models import TicketSla, utcnow
from bot.web import DESK
from router.assign import STATUSES
from router.sla import LIGHTS, queue_light

TICKET = r"/console/tickets/{number:\d{1,15}}"
_TICKET_PAGE = re.compile(r"^/console/tickets/(\d{1,15})$")
STATUS_LABELS = {"online": N_("Online"), "away": N_("Away"), "offline": N_("Offline")}


CLOCK_NAMES = {"first_response": N_("first response"), "next_response": N_("next response"), "resolution": N_("resolution")}


def _english(text: str, **values) -> str:
    return text.format(**values)


def time_left(red_at: datetime | None, now: datetime, _=_english) -> str:
    """"1 h 20 min left", "overdue 5 min" (in the viewer's language with `_`), or "" when nothing runs."""
    if red_at is None:
        return ""
    seconds = int((red_at - now).total_seconds())
    minutes = abs(seconds) // 60
    text = _("{hours} h {minutes} min", hours=minutes // 60, minutes=minutes % 60) if minutes >= 60 else \
        _("{minutes} min", minutes=minutes)
    return _("{time} left", time=text) if seconds >= 0 else _("overdue {time}", time=text)


def shown_light(sla: TicketSla | None, now: datetime, _=_english) -> dict:
    """A ticket's light as of now: the stored one, moved on by the due times already passed."""
    if sla is None:
        return {"name": "green", "left": "", "clock": "", "paused": False}
    level = sla.level
    if sla.red_at is not None and sla.red_at <= now:
        level = 2
    elif sla.yellow_at is not None and sla.yellow_at <= now:
        level = max(level, 1)
    clock = CLOCK_NAMES.get(sla.clock, sla.clock.replace("_", " "))
    return {"name": LIGHTS[level], "level": level, "left": time_left(sla.red_at, now, _), "clock": _(clock),
            "paused": sla.paused}


@web.middleware
async def routing_header(request: web.Request, handler):
    """Console pages show the viewer's presence and unread alerts; a ticket page also its light and offer."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if request.path.startswith("/console") and not request.path.startswith(("/console/static", "/console/ws")) \
            and token and len(token) <= 128:
        desk = request.app[DESK]
        async with desk.sessions() as s:
            row = await rq.session_operator(s, token_hash(desk, token))
            if row is not None:
                request[CHOSEN_LANGUAGE] = row.console_language  # the guard reads it again; the texts below need it
                unread = await rq.unread_count(s, row.id)
                header = {"status": row.status, "statuses": STATUS_LABELS, "unread": unread, "next": request.path_qs}
                match = _TICKET_PAGE.match(request.path)
                if match:
                    header["ticket"] = await _ticket_routing(s, int(match.group(1)), row.id, texts(request))
                request[ROUTING_HEADER] = header
    return await handler(request)


async def _ticket_routing(s, number: int, operator_id: int, _) -> dict | None:
    ticket = await rq.ticket_by_number(s, number)
    if ticket is None:
        return None
    now = utcnow()
    decision = await rq.latest_decision(s, ticket.id)
    sla = await s.get(TicketSla, ticket.id)
    offered_name = None
    if ticket.offered_to_id and ticket.assignee_id is None:
        offered_name = await rq.operator_name(s, ticket.offered_to_id)
    return {
        "light": shown_light(sla, now, _) if ticket.status in rq.OPEN_STATUSES else None,
        "decision": {"queue": decision.queue, "reason": decision.reason, "corrected": decision.corrected_queue} if decision else None,
        "offered_to_me": ticket.offered_to_id == operator_id and ticket.assignee_id is None,
        "offered_to": offered_name,
        "offer_left": time_left(ticket.offer_expires_at, now, _) if ticket.offer_expires_at else "",
        "relaxed": ticket.relaxed,
    }


@operator_page
async def set_status(request: web.Request, visit: Visit) -> web.Response:
    form = await request.post()
    status = str(form.get("status", ""))
    if status not in STATUSES:
        return error_page(request, visit, 400, say(request, "Choose online, away or offline."))
    await assignment.set_operator_status(request.app[DESK], visit.viewer.id, status)
    back = str(form.get("next", "/console"))
    return see_other(back if back.startswith("/console") and "//" not in back else "/console")


async def _ticket_act(request: web.Request, visit: Visit, act) -> web.Response:
    number = int(request.match_info["number"])
    desk = request.app[DESK]
    async with desk.sessions() as s:
        row = await queries.ticket_row_by_number(s, number)
    if row is None or not visit.viewer.can_see_ticket(row.queue_id, row.assignee_id):
        # An offer may come from a queue the operator does not work in (a supervisor's backup level).
        async with desk.sessions() as s:
            offered = await rq.offered_ticket_id(s, number, visit.viewer.id)
        if offered is None:
            return not_found(request, visit)
        ticket_id = offered
    else:
        ticket_id = row.id
    try:
        await act(ticket_id)
    except NotFound:
        return not_found(request, visit)
    except InvalidInput as exc:
        return await show_ticket(request, visit, number, status=400, error=error_text(request, exc))
    async with desk.sessions() as s:
        still = await queries.ticket_row_by_id(s, ticket_id)
    if still is None or not visit.viewer.can_see_ticket(still.queue_id, still.assignee_id):
        return see_other("/console")
    return see_other(f"/console/tickets/{number}")


@operator_page
async def accept(request: web.Request, visit: Visit) -> web.Response:
    return await _ticket_act(request, visit, lambda tid: assignment.accept_offer(request.app[DESK], visit.viewer, tid))


@operator_page
async def reject(request: web.Request, visit: Visit) -> web.Response:
    return await _ticket_act(request, visit, lambda tid: assignment.reject_offer(request.app[DESK], visit.viewer, tid))


@operator_page
async def wrong_queue(request: web.Request, visit: Visit) -> web.Response:
    form = await request.post()
    queue = str(form.get("queue", "")).strip()
    return await _ticket_act(request, visit, lambda tid: routing.mark_wrong_queue(request.app[DESK], visit.viewer, tid, queue))


@operator_page
async def alerts(request: web.Request, visit: Visit) -> web.Response:
    async with request.app[DESK].sessions() as s:
        rows = await rq.recent_notifications(s, visit.viewer.id)
    zone = request.app[DESK].settings.desk.time_zone
    from zoneinfo import ZoneInfo

    items = [{"text": n.text, "number": number, "at": n.created_at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M"),
              "unread": n.read_at is None, "kind": n.kind} for n, number in rows]
    return page(request, visit, "alerts.html", items=items)


@operator_page
async def alerts_read(request: web.Request, visit: Visit) -> web.Response:
    await routing.mark_alerts_read(request.app[DESK], visit.viewer.id)
    return see_other("/console/alerts")


@operator_page
async def overview(request: web.Request, visit: Visit) -> web.Response:
    """Supervisors: each queue's light, the open tickets by urgency with time left, operators at work,
    and the queue-to-queue transfer table (what the router got wrong, as operators corrected it)."""
    viewer = visit.viewer
    if not viewer.can_see_operators():
        return error_page(request, visit, 403, say(request, "Only supervisors, managers and admins see queues and SLA."))
    now = utcnow()
    desk = request.app[DESK]
    async with desk.sessions() as s:
        queues = {qid: name for qid, name in (await rq.queue_names(s)).items()
                  if viewer.sees_everything or qid in viewer.queue_ids}
        lights = await rq.open_lights_per_queue(s, queues)
        open_rows = await queries.list_tickets(s, viewer, status="active", limit=500)
        stored = await rq.ticket_lights(s, [r.id for r in open_rows])
        corrected = await rq.corrections(s)
        decided = await rq.decisions_per_queue(s)
        people = await queries.all_operators(s)  # with their presence and capacity
        used = await rq.loads(s, now)
    queue_rows = []
    for qid, name in queues.items():
        worst, counts = queue_light(shown_light(sla, now)["level"] for sla in lights.get(qid, []))
        queue_rows.append({"name": name, "light": LIGHTS[worst], "counts": counts})
    tickets = sorted(({"number": r.number, "subject": r.subject, "queue": r.queue, "assignee": r.assignee or "",
                       "priority": r.priority, **shown_light(stored.get(r.id), now, texts(request)), "red_at": stored[r.id].red_at if r.id in stored else None}
                      for r in open_rows), key=lambda t: (-t.get("level", 0), t["red_at"] or datetime.max.replace(tzinfo=now.tzinfo)))
    names = sorted({*queues.values(), *(c[1] for c in corrected), *(c[2] for c in corrected)})
    table = {(src, dst): 0 for src in names for dst in names}
    for _, src, dst, _, _, _ in corrected:
        table[(src, dst)] = table.get((src, dst), 0) + 1
    operators = [{"name": o.display_name, "status": o.status,
                  "load": ", ".join(f"{ch} {n}" for ch, n in sorted(used.get(o.id, {}).items())) or "—",
                  "capacity": ", ".join(f"{ch} {n}" for ch, n in sorted((o.capacity or desk.settings.router.assignment.default_capacity).items())),
                  "queues": sorted(q.name for q in o.queues)}
                 for o in people if o.active and (viewer.sees_everything or {q.id for q in o.queues} & viewer.queue_ids)]
    return page(request, visit, "routing.html", queues=queue_rows, tickets=tickets, names=names, table=table,
                decided=decided, corrections=len(corrected), operators=operators)


def setup_routing_pages(app: web.Application) -> None:
    app.middlewares.append(routing_header)
    app.router.add_routes([
        web.post("/console/status", set_status),
        web.post(TICKET + "/accept", accept),
        web.post(TICKET + "/reject", reject),
        web.post(TICKET + "/wrong-queue", wrong_queue),
        web.get("/console/alerts", alerts),
        web.post("/console/alerts/read", alerts_read),
        web.get("/console/routing", overview),
    ])
