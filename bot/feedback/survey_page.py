"""The survey page behind an email link: GET shows the choice, only a confirmed POST records it.

Mail scanners and link previews fetch (GET) every link in a message; a vote needs the POST of the
confirm form, so they cannot cast one. The token in the path is the only key; it is stored hashed.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from bot.actions.surveys import LinkSurvey, answer_by_link, survey_by_token
from bot.console.language import negotiate
from bot.dialogue.i18n import default_catalogs
from bot.errors import InvalidInput, NotFound
from bot.web import DESK, render

STATIC = "feedback_static"
# The page posts only to itself and loads only our stylesheet.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
MAX_FORM = 32 * 1024


def N_(text: str) -> str:
    """Mark a text for the catalogs; it is translated when the page is rendered."""
    return text


# The page's texts, in the client's language from the catalogs (gettext msgids).
TEXTS = {
    "page_title": N_("How did we do?"),
    "page_intro": N_("Your request #{number} was resolved. How would you rate our help?"),
    "page_confirm": N_("Send my answer"),
    "page_comment": N_("Anything you would like to add? (optional)"),
    "page_thanks": N_("Thank you! Your answer is saved. You can change it with this link until {until}."),
    "page_expired": N_("This survey link has expired. Thank you all the same!"),
    "page_unknown": N_("This survey link is not valid. Check that the whole link was copied."),
    "page_pick": N_("Please choose a score from 1 to 5."),
    "low": N_("very poor"),
    "high": N_("excellent"),
}


def _language(request: web.Request, language: str | None) -> str:
    """The survey's language (the client's); without a survey, the browser's; else English."""
    catalogs = default_catalogs()
    code = (language or "")[:2]
    if catalogs.has(code):
        return code
    return negotiate(request.headers.get("Accept-Language", ""), catalogs.languages) or "en"


def _text(language: str, key: str, **values) -> str:
    return default_catalogs().get(language).gettext(TEXTS[key], **values)


def _page(request: web.Request, status: int, language: str | None, **context) -> web.Response:
    desk = request.app[DESK]
    language = _language(request, language)
    t = {key: _text(language, key) for key in ("page_title", "page_confirm", "page_comment", "low", "high")}
    response = render("survey/page.html", status, csp=CSP, desk_name=desk.settings.desk.name, t=t, lang=language,
                      css_url=str(request.app.router[STATIC].url_for(filename="feedback.css")), **context)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the path
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _message(request: web.Request, status: int, language: str | None, key: str, **values) -> web.Response:
    return _page(request, status, language, state="message", message=_text(_language(request, language), key, **values))


def _intro(request: web.Request, survey: LinkSurvey) -> str:
    return _text(_language(request, survey.language), "page_intro", number=survey.ticket_number)


def _until(request: web.Request, survey: LinkSurvey) -> str:
    zone = ZoneInfo(request.app[DESK].settings.desk.time_zone)
    return survey.expires_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _score(value: str | None) -> int | None:
    return int(value) if value in ("1", "2", "3", "4", "5") else None


async def show(request: web.Request) -> web.Response:
    """The question with the score from the link preselected (links carry ?score=N); nothing is recorded."""
    try:
        survey = await survey_by_token(request.app[DESK], request.match_info["token"])
    except NotFound:
        return _message(request, 404, None, "page_unknown")
    if survey.expired:
        return _message(request, 410, survey.language, "page_expired")
    chosen = _score(request.query.get("score")) or survey.score
    return _page(request, 200, survey.language, state="ask", chosen=chosen, comment=survey.comment,
                 intro=_intro(request, survey),
                 answered=survey.score is not None, until=_until(request, survey))


async def confirm(request: web.Request) -> web.Response:
    """The confirmed answer: recorded, or changed while the link is valid."""
    desk, token = request.app[DESK], request.match_info["token"]
    if request.content_length and request.content_length > MAX_FORM:
        return _message(request, 413, None, "page_pick")
    try:
        survey = await survey_by_token(desk, token)
    except NotFound:
        return _message(request, 404, None, "page_unknown")
    if survey.expired:
        return _message(request, 410, survey.language, "page_expired")
    form = await request.post()
    score = _score(form.get("score") if isinstance(form.get("score"), str) else None)
    comment = form.get("comment") if isinstance(form.get("comment"), str) else ""
    if score is None:
        return _page(request, 422, survey.language, state="ask", chosen=None, comment=comment,
                     intro=_intro(request, survey), answered=False,
                     until=_until(request, survey), error=_text(_language(request, survey.language), "page_pick"))
    try:
        saved = await answer_by_link(desk, token, score, comment)
    except NotFound:
        return _message(request, 404, None, "page_unknown")
    except InvalidInput as exc:
        if "expired" in str(exc):
            return _message(request, 410, survey.language, "page_expired")
        return _page(request, 422, survey.language, state="ask", chosen=score, comment=comment,
                     intro=_intro(request, survey), answered=False,
                     until=_until(request, survey),
                     error=exc.translated(default_catalogs().get(_language(request, survey.language)).gettext))
    return _message(request, 200, saved.language, "page_thanks", until=_until(request, saved))


def survey_routes() -> list[web.RouteDef]:
    token = r"/survey/{token:[A-Za-z0-9_-]{1,128}}"
    return [web.get(token, show), web.post(token, confirm)]
