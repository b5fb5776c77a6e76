"""Console pages of feedback: the complaints register and a complaint's page, follow-ups, marking a complaint."""
from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.actions import complaints as complaint_actions
from bot.actions.followups import close_follow_up
from bot.console.auth import Visit, operator_page
from bot.console.layout import N_, error_page, error_text, page, say
from bot.errors import Forbidden, InvalidInput, NotFound
from bot.storage import feedback_queries as fq
from bot.feedback.access import sees_complaint, sees_register
from bot.feedback.config import SEVERITIES
from bot.storage import queries
from bot.storage.models import utcnow
from bot.web import DESK

REFERENCE = r"{reference:C-\d{1,15}}"
STATUS_FILTERS = {"open": N_("Open (received, investigating)"), "received": N_("Received"), "investigating": N_("Investigating"),
                  "resolved": N_("Resolved"), "closed": N_("Closed"), "": N_("Any status")}


def _zone(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.app[DESK].settings.desk.time_zone)


def _when(moment: datetime | None, zone) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""


def _row(c: fq.ComplaintRow, zone, now: datetime) -> dict:
    return {"reference": c.reference, "ticket": c.ticket_number, "client": c.client_name or "", "queue": c.queue,
            "channel": c.channel, "category": c.category, "severity": c.severity, "status": c.status, "source": c.source,
            "owner": c.owner or "", "owner_id": c.owner_id, "summary": c.summary, "resolution": c.resolution,
            "due": _when(c.due_at, zone), "due_date": c.due_at.astimezone(zone).date().isoformat(),
            "created": _when(c.created_at, zone), "resolved": _when(c.resolved_at, zone),
            "closed": _when(c.closed_at, zone), "overdue": c.overdue(now)}


def _choice(value: str | None, allowed) -> str:
    return value if value in allowed else ""


@operator_page
async def register(request: web.Request, visit: Visit) -> web.Response:
    """The complaints register: filters by status, category, severity, queue, owner and overdue; overdue rows are red."""
    if not sees_register(visit.viewer):
        return error_page(request, visit, 403, say(request, "Only supervisors, managers and admins see the complaints register."))
    desk, q = request.app[DESK], request.query
    config = desk.settings.feedback.complaints
    now = utcnow()
    async with desk.sessions() as s:
        queue_names = await queries.queue_names(s)
        operators = await queries.operators_for_transfer(s)
        filters = {"status": _choice(q.get("status", "open"), STATUS_FILTERS), "category": _choice(q.get("category"), config.categories),
                   "severity": _choice(q.get("severity"), SEVERITIES), "queue": _choice(q.get("queue"), queue_names),
                   "owner": _choice(q.get("owner"), [o[0] for o in operators] + ["none"]), "overdue": q.get("overdue") == "1"}
        rows = await fq.complaints(s, visit.viewer, **{k: v for k, v in filters.items() if k != "overdue"},
                                   overdue_at=now if filters["overdue"] else None)
    zone = _zone(request)
    return page(request, visit, "complaints.html", complaints=[_row(c, zone, now) for c in rows], filters=filters,
                statuses=STATUS_FILTERS, categories=config.categories, severities=SEVERITIES, queues=queue_names,
                operators=operators)


async def _show(request: web.Request, visit: Visit, reference: str, status: int = 200, error: str = "") -> web.Response:
    desk = request.app[DESK]
    async with desk.sessions() as s:
        c = await fq.complaint(s, reference)
        if c is None or not sees_complaint(visit.viewer, c.queue_id, c.owner_id):
            return error_page(request, visit, 404, say(request, "There is no such complaint, or it is not in your queues."))
        history = await fq.complaint_history(s, c.id, (await queries.ticket_row_by_number(s, c.ticket_number)).id)
        operators = await queries.operators_for_transfer(s)
    zone = _zone(request)
    return page(request, visit, "complaint.html", status, complaint=_row(c, zone, utcnow()),
                history=[{"at": _when(at, zone), "kind": kind, "who": who or say(request, "the desk"), "data": data} for at, kind, who, data in history],
                next_statuses=complaint_actions.NEXT[c.status], categories=desk.settings.feedback.complaints.categories,
                severities=SEVERITIES, operators=operators, error=error)


@operator_page
async def complaint_page(request: web.Request, visit: Visit) -> web.Response:
    return await _show(request, visit, request.match_info["reference"])


def _due_date(value: str, zone) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidInput("the due date must be a date like 2026-12-01") from None
    return datetime.combine(day, time(23, 59), tzinfo=zone)  # due by the end of that local day


@operator_page
async def edit(request: web.Request, visit: Visit) -> web.Response:
    reference, form = request.match_info["reference"], await request.post()
    try:
        await complaint_actions.edit_complaint(
            request.app[DESK], visit.viewer, reference, category=form.get("category") or None,
            severity=form.get("severity") or None, owner=form.get("owner") if "owner" in form else None,
            due_date=_due_date(str(form.get("due_date", "")), _zone(request)))
    except (InvalidInput, Forbidden) as exc:
        return await _show(request, visit, reference, 400 if isinstance(exc, InvalidInput) else 403,
                           error_text(request, exc))
    except NotFound:
        return error_page(request, visit, 404, say(request, "There is no such complaint, or it is not in your queues."))
    raise web.HTTPSeeOther(f"/console/complaints/{reference}")


@operator_page
async def move(request: web.Request, visit: Visit) -> web.Response:
    reference, form = request.match_info["reference"], await request.post()
    try:
        await complaint_actions.move_complaint(request.app[DESK], visit.viewer, reference, str(form.get("status", "")),
                                               str(form.get("resolution", "")))
    except (InvalidInput, Forbidden) as exc:
        return await _show(request, visit, reference, 400 if isinstance(exc, InvalidInput) else 403,
                           error_text(request, exc))
    except NotFound:
        return error_page(request, visit, 404, say(request, "There is no such complaint, or it is not in your queues."))
    raise web.HTTPSeeOther(f"/console/complaints/{reference}")


@operator_page
async def mark(request: web.Request, visit: Visit) -> web.Response:
    """An operator registers the ticket as a complaint; the client gets the reference at once."""
    number, form = int(request.match_info["number"]), await request.post()
    desk = request.app[DESK]
    async with desk.sessions() as s:
        row = await queries.ticket_row_by_number(s, number)
    if row is None or not visit.viewer.can_see_ticket(row.queue_id, row.assignee_id):
        return error_page(request, visit, 404, say(request, "There is no such ticket, or it is not in your queues."))
    try:
        await complaint_actions.mark_complaint(desk, visit.viewer, row.id, str(form.get("summary", "")),
                                               str(form.get("category", "")) or None, str(form.get("severity", "")) or None)
    except InvalidInput as exc:
        return error_page(request, visit, 400, error_text(request, exc))
    raise web.HTTPSeeOther(f"/console/tickets/{number}")


@operator_page
async def follow_up_list(request: web.Request, visit: Visit) -> web.Response:
    if not sees_register(visit.viewer):
        return error_page(request, visit, 403, say(request, "Only supervisors, managers and admins see follow-ups."))
    status = _choice(request.query.get("status", "open"), ("open", "done", "all")) or "open"
    async with request.app[DESK].sessions() as s:
        rows = await fq.follow_ups(s, visit.viewer, status)
    zone = _zone(request)
    return page(request, visit, "follow_ups.html", shown=status,
                follow_ups=[{**f.__dict__, "created": _when(f.created_at, zone), "done": _when(f.done_at, zone)} for f in rows])


@operator_page
async def follow_up_done(request: web.Request, visit: Visit) -> web.Response:
    form = await request.post()
    try:
        await close_follow_up(request.app[DESK], visit.viewer, int(request.match_info["id"]), str(form.get("outcome", "")))
    except InvalidInput as exc:
        return error_page(request, visit, 400, error_text(request, exc))
    except NotFound:
        return error_page(request, visit, 404, say(request, "There is no such follow-up, or it is not in your queues."))
    raise web.HTTPSeeOther("/console/follow-ups")


def console_routes() -> list[web.RouteDef]:
    from bot.feedback.digest_page import digest_page

    return [
        web.get("/console/complaints", register),
        web.get(f"/console/complaints/{REFERENCE}", complaint_page),
        web.post(f"/console/complaints/{REFERENCE}/edit", edit),
        web.post(f"/console/complaints/{REFERENCE}/status", move),
        web.post(r"/console/tickets/{number:\d{1,15}}/complaint", mark),
        web.get("/console/follow-ups", follow_up_list),
        web.post(r"/console/follow-ups/{id:\d{1,15}}/done", follow_up_done),
        web.get("/console/digest", digest_page),
    ]


async def ticket_feedback(session, settings, ticket_id: int, client_id: int) -> dict:
    """The ticket page's feedback card: what is known, and the choices for registering a complaint."""
    return {**await fq.ticket_feedback(session, ticket_id, client_id),
            "categories": settings.feedback.complaints.categories, "severities": SEVERITIES}
