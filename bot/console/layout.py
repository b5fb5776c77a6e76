"""What every console page shares: the header's context, static asset URLs and error pages."""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from aiohttp import web

from bot.console.language import language_choices, request_language, translator
from bot.console.present import follow_up_detail
from bot.errors import HelplineError
from bot.texts import stored_text
from bot.web import DESK, render

if TYPE_CHECKING:
    from bot.console.auth import Visit

STATIC = "console_static"
# What the routing middleware knows about the viewer (presence, alerts, the shown ticket's SLA and offer).
ROUTING_HEADER = web.RequestKey("routing_header", dict)


def console_translator(language: str):
    """The console's texts in the desk's language (`_("...")` in templates; English fills gaps)."""
    from bot.dialogue.i18n import default_catalogs

    return default_catalogs().get(language)


def N_(text: str) -> str:
    """Mark a text for the catalogs where it is defined; it is translated where it is shown."""
    return text


# What console.js writes itself; it reads them translated from <body data-texts> (no inline script: CSP).
JS_TEXTS = (N_("live"), N_("offline"), N_("unassigned"), N_("auto-reply"), N_("edited"), N_("Quoted text and signature"),
            N_("View original"), N_("Internal note"), N_("never sent to the client"), N_("The client is typing…"),
            N_("{name} is typing…"), N_("An operator"), N_("new"), N_("open"), N_("waiting"), N_("resolved"), N_("closed"),
            N_("(no subject)"), N_("Client"), N_("Bot"), N_("System"), N_("Operator"), N_("low score"),
            N_("complaint words"), N_("New: open the ticket, or reload to close it here."), N_("score {score}"))
# Values shown as they are stored (statuses, roles, priorities, severities, lights): templates show `_(value)`.
VALUE_TEXTS = (N_("received"), N_("investigating"), N_("operator"), N_("supervisor"), N_("manager"), N_("admin"),
               N_("low"), N_("normal"), N_("high"), N_("urgent"), N_("medium"), N_("critical"), N_("green"),
               N_("yellow"), N_("red"), N_("online"), N_("away"))


def texts(request: web.Request):
    """`_` for Python code of a console page: the request's language, English filling gaps."""
    return translator(request, request.app[DESK].settings.desk.default_language).gettext


def say(request: web.Request, text: str, **values) -> str:
    """One text in the request's language (extracted for the catalogs like `_`)."""
    return texts(request)(text, **values)


def error_text(request: web.Request, exc: HelplineError) -> str:
    """An action's error in the request's language (its message is a msgid with values; str(exc) stays English)."""
    return exc.translated(texts(request))


def asset(request: web.Request, filename: str) -> str:
    """A versioned static URL, so browsers refetch a changed script or stylesheet."""
    return _versioned(request.app.router[STATIC], filename)


@functools.lru_cache(maxsize=64)
def _versioned(resource, filename: str) -> str:
    # aiohttp hashes the file for its version on every url_for: once per process is enough, as the
    # static files change only with a new release (and a restart).
    return str(resource.url_for(filename=filename))


def page(request: web.Request, visit: Visit | None, template: str, status: int = 200, **context) -> web.Response:
    """Render a console template inside the base layout."""
    desk = request.app[DESK]
    context.setdefault("routing", request.get(ROUTING_HEADER))
    language = request_language(request, desk.settings.desk.default_language)
    gettext = console_translator(language).gettext
    response = render(
        f"console/{template}", status, _=gettext, lang=language, js_texts={text: gettext(text) for text in JS_TEXTS},
        console_languages=language_choices(language), stored=lambda text: stored_text(text, gettext),
        follow_up_detail=lambda detail: follow_up_detail(detail, gettext),
        authors={"client": gettext("Client"), "bot": gettext("Bot"), "system": gettext("System"), "operator": gettext("Operator")}, desk_name=desk.settings.desk.name, visit=visit,
        path=context.pop("path", request.path),
        css_url=asset(request, "console.css"), js_url=asset(request, "console.js"), **context)
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: web.Request, visit: Visit | None, status: int, message: str) -> web.Response:
    _ = texts(request)
    titles = {400: _("Cannot do that"), 403: _("Not allowed"), 404: _("Not found"), 429: _("Too many attempts")}
    routing = request.get(ROUTING_HEADER)
    if routing:
        # An error page must not echo the path: a hidden ticket's 404 is identical to a missing one's.
        routing = {**routing, "next": "/console"}
    # path too: the language switcher returns to it, and an error page must not echo it (see above).
    return page(request, visit, "error.html", status, title=titles.get(status, _("Error")), message=message, routing=routing,
                path="/console")


async def static_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Our scripts and styles are never sniffed as anything else."""
    if request.path.startswith("/console/static/"):
        response.headers["X-Content-Type-Options"] = "nosniff"


def not_found(request: web.Request, visit: Visit, what: str = "ticket") -> web.Response:
    """The same answer for something missing and something the viewer may not see."""
    _ = texts(request)
    messages = {"ticket": _("There is no such ticket, or it is not in your queues."),
                "message": _("There is no such message, or it is not in your queues."),
                "attachment": _("There is no such attachment, or it is not in your queues.")}
    return error_page(request, visit, 404, messages.get(what) or _("There is nothing here, or it is not in your queues."))
