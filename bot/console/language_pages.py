"""The header's language switcher: stores the operator's console language and goes back to the page."""
from __future__ import annotations

from aiohttp import web

from bot.actions.preferences import set_console_language
from bot.console.auth import Visit, operator_page, safe_next
from bot.console.language import CHOSEN_LANGUAGE, available_languages
from bot.console.layout import error_page, error_text
from bot.errors import InvalidInput
from bot.web import DESK


@operator_page
async def choose_language(request: web.Request, visit: Visit) -> web.Response:
    """POST language (a catalog's code, or "" for the browser's) and next (a console path)."""
    form = await request.post()
    language = str(form.get("language", "")).strip()
    try:
        await set_console_language(request.app[DESK], visit.viewer.id, language, available_languages())
    except InvalidInput as exc:
        return error_page(request, visit, 400, error_text(request, exc))
    request[CHOSEN_LANGUAGE] = language
    raise web.HTTPSeeOther(safe_next(str(form.get("next", ""))))


def language_routes() -> list[web.RouteDef]:
    return [web.post("/console/language", choose_language)]
