"""Questions the bot could not answer, for supervisors and managers: grouped, filtered, marked covered."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.actions.unanswered import MAX_IDS, mark_covered, question_languages, unanswered_groups
from bot.console.auth import Visit, operator_page
from bot.console.layout import N_, error_page, error_text, page, say
from bot.dialogue.knowledge import load_knowledge_base
from bot.errors import ConfigError, Forbidden, InvalidInput
from bot.feedback.access import sees_register
from bot.feedback.periods import Period, days, parse_period
from bot.feedback.words import Masker, quote
from bot.storage.models import utcnow
from bot.web import DESK

PATH = "/console/unanswered"
PERIODS = {"7d": N_("Last 7 days"), "30d": N_("Last 30 days"), "week": N_("Last week"), "month": N_("Last month")}
ROLLING = {"7d": 7, "30d": 30}
KINDS = {"no_match": N_("no match"), "not_helpful": N_("not helpful"), "no_translation": N_("no translation")}


def _period(request: web.Request, zone: ZoneInfo) -> tuple[str, Period]:
    """Rolling days up to today, the last full week or month, or from/to dates (a bad range is an InvalidInput)."""
    q, now = request.query, utcnow()
    if q.get("from") and q.get("to"):
        return "dates", parse_period(f"{q['from'][:10]}:{q['to'][:10]}", zone, now)
    choice = q.get("period", "30d")
    choice = choice if choice in PERIODS else "30d"
    if choice in ROLLING:
        today = now.astimezone(zone).date()
        return choice, days(today - timedelta(days=ROLLING[choice] - 1), today, zone)
    return choice, parse_period(choice, zone, now)


def _articles(desk) -> list[str]:
    """The knowledge base's article names, for linking a question to the article that now covers it."""
    folder = desk.settings.bot.knowledge_base
    if folder is None:
        return []
    try:
        return sorted({a.id for a in load_knowledge_base(folder).articles})
    except ConfigError:
        return []


async def _show(request: web.Request, visit: Visit, status: int = 200, error: str = "") -> web.Response:
    desk = request.app[DESK]
    zone = ZoneInfo(desk.settings.desk.time_zone)
    try:
        choice, period = _period(request, zone)
    except InvalidInput as exc:
        status, error = 400, error or error_text(request, exc)
        choice, period = "30d", days(utcnow().astimezone(zone).date() - timedelta(days=29), utcnow().astimezone(zone).date(), zone)
    languages = await question_languages(desk)
    language = request.query.get("language", "")
    language = language if language in languages else ""
    covered = request.query.get("show") == "covered"
    groups = await unanswered_groups(desk, visit.viewer, period.start, period.end, language, covered)
    masker = Masker.of(desk.settings.feedback.digest.masks)
    rows = [{"question": quote(g.question, masker, 300), "count": g.count, "ids": g.ids[:MAX_IDS],
             "languages": sorted(g.languages), "kinds": sorted(g.kinds), "tickets": g.tickets[:20],
             "more_tickets": max(0, len(g.tickets) - 20), "hidden": g.hidden_tickets, "article": g.covered_article,
             "last": g.last.astimezone(zone).strftime("%Y-%m-%d %H:%M") if g.last else ""} for g in groups]
    return page(request, visit, "unanswered.html", status, rows=rows, periods=PERIODS, period=choice,
                first_day=period.first_day.isoformat(), last_day=period.last_day.isoformat(), languages=languages,
                language=language, covered=covered, kinds=KINDS, articles=_articles(desk), error=error,
                total=sum(r["count"] for r in rows), back=request.path_qs)


@operator_page
async def unanswered_list(request: web.Request, visit: Visit) -> web.Response:
    if not sees_register(visit.viewer):
        return error_page(request, visit, 403, say(request, "Only supervisors, managers and admins see unanswered questions."))
    return await _show(request, visit)


@operator_page
async def cover(request: web.Request, visit: Visit) -> web.Response:
    """Mark a group of questions covered, optionally by a knowledge-base article; back to the list."""
    if not sees_register(visit.viewer):
        return error_page(request, visit, 403, say(request, "Only supervisors, managers and admins see unanswered questions."))
    form = await request.post()
    try:
        ids = [int(v) for v in form.getall("id", []) if str(v).isdigit() and len(str(v)) <= 15]
        article = str(form.get("article", ""))
        if article and article not in _articles(request.app[DESK]):
            raise InvalidInput("There is no such article in the knowledge base.")
        await mark_covered(request.app[DESK], visit.viewer, ids, article)
    except InvalidInput as exc:
        return await _show(request, visit, 400, error_text(request, exc))
    except Forbidden as exc:
        return error_page(request, visit, 403, error_text(request, exc))
    back = str(form.get("back", ""))
    raise web.HTTPSeeOther(back if back.startswith(PATH + "?") and "//" not in back and len(back) < 500 else PATH)


def unanswered_routes() -> list[web.RouteDef]:
    return [web.get(PATH, unanswered_list), web.post(PATH + "/cover", cover)]
