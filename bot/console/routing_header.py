"""The routing part of console pages: the viewer's presence and unread alerts, and a ticket's SLA light and offer."""
from __future__ import annotations

import re
from datetime import datetime

from aiohttp import web

from bot.actions.operators import token_hash
from bot.console.auth import SESSION_COOKIE
from bot.console.language import CHOSEN_LANGUAGE
from bot.console.layout import N_, ROUTING_HEADER
from bot.storage import routing_queries as rq
from bot.web import DESK
from router.sla import LIGHTS

TICKET_PAGE = re.compile(r"^/console/tickets/(\d{1,15})$")
STATUS_LABELS = {"online": N_("Online"), "away": N_("Away"), "offline": N_("Offline")}
CLOCK_NAMES = {"first_response": N_("first response"), "next_response": N_("next response"),
               "resolution": N_("resolution")}


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


def shown_light(sla, now: datetime, _=_english) -> dict:
    """A ticket's light as of now (`sla`: a TicketSla or a row with its level, clock, yellow_at, red_at and
    paused; None when the ticket has none): the stored one, moved on by the due times already passed."""
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


def header(status: str, unread: int, next_path: str) -> dict:
    """The header's presence switch and alerts link."""
    return {"status": status, "statuses": STATUS_LABELS, "unread": unread, "next": next_path}


@web.middleware
async def routing_header(request: web.Request, handler):
    """Console pages show the viewer's presence and unread alerts.

    Not read here for a ticket page (GET): the page reads them with the ticket's own details, in its
    one session (bot/console/ticket_page.py), along with the ticket's light and offer.
    """
    token = request.cookies.get(SESSION_COOKIE, "")
    if request.path.startswith("/console") and not request.path.startswith(("/console/static", "/console/ws")) \
            and token and len(token) <= 128 and not (request.method == "GET" and TICKET_PAGE.match(request.path)):
        desk = request.app[DESK]
        async with desk.sessions() as s:
            row = await rq.session_operator(s, token_hash(desk, token))
            if row is not None:
                request[CHOSEN_LANGUAGE] = row.console_language  # the guard reads it again; the texts below need it
                request[ROUTING_HEADER] = header(row.status, await rq.unread_count(s, row.id), request.path_qs)
    return await handler(request)


def ticket_routing(details, status: str, assignee_id: int | None, viewer_id: int, now: datetime, _) -> dict:
    """A ticket's routing card from its `ticket_reads.ticket_details` row: light, router's decision, offer."""
    offered = details.offered_to_id is not None and assignee_id is None
    return {
        "light": shown_light(_Sla(details) if details.sla_ticket is not None else None, now, _)
        if status in rq.OPEN_STATUSES else None,
        "decision": {"queue": details.decision_queue, "reason": details.decision_reason,
                     "corrected": details.decision_corrected} if details.decision_id is not None else None,
        "offered_to_me": offered and details.offered_to_id == viewer_id,
        "offered_to": details.offered_name if offered else None,
        "offer_left": time_left(details.offer_expires_at, now, _) if details.offer_expires_at else "",
        "relaxed": details.relaxed,
    }


class _Sla:
    """A details row's SLA columns under TicketSla's names, for `shown_light`."""

    __slots__ = ("level", "clock", "yellow_at", "red_at", "paused")

    def __init__(self, details) -> None:
        self.level, self.clock, self.yellow_at, self.red_at, self.paused = (
            details.sla_level, details.sla_clock, details.sla_yellow_at, details.sla_red_at, details.sla_paused)
