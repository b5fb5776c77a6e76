"""The operators page for supervisors, managers and admins: who works where and how much they hold."""
from __future__ import annotations

from aiohttp import web

from bot.console.auth import Visit, operator_page
from bot.console.layout import error_page, page, say
from bot.storage import queries
from bot.web import DESK


@operator_page
async def operators(request: web.Request, visit: Visit) -> web.Response:
    """Admins see everyone; supervisors and managers see the operators of their queues."""
    viewer = visit.viewer
    if not viewer.can_see_operators():
        return error_page(request, visit, 403, say(request, "Only supervisors, managers and admins see the operators list."))
    async with request.app[DESK].sessions() as s:
        workload = await queries.operator_workload(s)
    people = [
        {"username": o.username, "name": o.display_name, "role": o.role, "active": o.active,
         "queues": sorted(q.name for q in o.queues), "open": count}
        for o, count in workload
        if viewer.sees_everything or o.id == viewer.id or {q.id for q in o.queues} & viewer.queue_ids
    ]
    return page(request, visit, "operators.html", people=people)
