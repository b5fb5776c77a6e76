"""The managers' digest page in the console: last week by default, last month, or any dates."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from bot.console.auth import Visit, operator_page
from bot.console.language import request_language
from bot.console.layout import error_page, error_text, page, say
from bot.errors import InvalidInput
from bot.feedback.access import sees_register
from bot.feedback.digest import build_digest
from bot.feedback.periods import parse_period
from bot.feedback.render import page_context
from bot.storage.models import utcnow
from bot.web import DESK


@operator_page
async def digest_page(request: web.Request, visit: Visit) -> web.Response:
    if not sees_register(visit.viewer):
        return error_page(request, visit, 403, say(request, "The digest is for supervisors, managers and admins."))
    desk, q = request.app[DESK], request.query
    zone, now = ZoneInfo(desk.settings.desk.time_zone), utcnow()
    choice = q.get("period", "week")
    if q.get("from") and q.get("to"):
        choice = f"{q['from']}:{q['to']}"
    error = ""
    try:
        period = parse_period(choice, zone, now)
    except InvalidInput as exc:
        error, choice = error_text(request, exc), "week"
        period = parse_period("week", zone, now)
    digest = await build_digest(desk, period, now)
    context = page_context(digest, request_language(request, desk.settings.desk.default_language))
    context.pop("_"), context.pop("lang")  # the console page gives its own, in the same language
    return page(request, visit, "digest.html", 400 if error else 200, period=choice, error=error, **context)
