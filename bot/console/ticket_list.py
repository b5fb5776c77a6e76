"""My tickets: the viewer's and the unassigned ones of their queues, or everything they may see."""
from __future__ import annotations

from aiohttp import web

from bot.console.auth import Visit, operator_page
from bot.console.layout import N_, page
from bot.console.live import HUB
from bot.console.present import Shown, is_mine, ticket_dict
from bot.storage import queries
from bot.storage.models import utcnow
from bot.web import DESK

STATUSES = {"active": N_("Active"), "new": N_("New"), "open": N_("Open"), "waiting": N_("Waiting for client"),
            "resolved": N_("Resolved"), "closed": N_("Closed"), "all": N_("Any status")}
SCOPES = {"mine": N_("Mine and unassigned"), "all": N_("All I can see")}


@operator_page
async def ticket_list(request: web.Request, visit: Visit) -> web.Response:
    """The list page; console.js keeps it current from "ticket" and "gone" frames."""
    status = request.query.get("status", "active")
    status = status if status in STATUSES else "active"
    scope = request.query.get("scope", "mine")
    scope = scope if scope in SCOPES else "mine"
    rendered_at = utcnow()  # before reading: the socket catches up on anything from here on
    async with request.app[DESK].sessions() as s:
        counts = await queries.queue_counts(s, visit.viewer)
        queue = request.query.get("queue", "")
        queue = queue if queue in counts else ""
        rows = await queries.list_tickets(s, visit.viewer, status=None if status == "all" else status,
                                          queue=queue or None, mine_or_unassigned=scope == "mine")
    zone = request.app[HUB].zone
    tickets = [Shown(ticket_dict(r, zone), mine=is_mine(r, visit.viewer)) for r in rows]
    return page(request, visit, "tickets.html", tickets=tickets, counts=counts, statuses=STATUSES, scopes=SCOPES,
                filters={"status": status, "queue": queue, "scope": scope}, rendered_at=rendered_at.isoformat())
