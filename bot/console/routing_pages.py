"""Routing in the console: presence, offers, "wrong queue", SLA lights with time left, alerts, the transfer table."""
from __future__ import annotations

from datetime import datetime

from aiohttp import web
from bot.actions import assignment, routing
from bot.console.auth import Visit, operator_page
from bot.console.layout import error_page, error_text, not_found, page, say, texts
from bot.console.login import see_other
from bot.console.routing_header import routing_header, shown_light
from bot.console.ticket_page import show_ticket
from bot.errors import InvalidInput, NotFound
from bot.storage import queries
from bot.storage import routing_queries as rq
from bot.storage.models import utcnow
from bot.web import DESK
from router.assign import STATUSES
from router.sla import LIGHTS, queue_light

TICKET = r"/console/tickets/{number:\d{1,15}}"


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
