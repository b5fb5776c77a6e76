"""Which language the console speaks to a request: the operator's choice, the browser's, the desk's default."""
from __future__ import annotations

from aiohttp import web

from bot.dialogue.i18n import Translator, default_catalogs, language_name

# The operator's stored choice, read by the session guard ("" when they never chose).
CHOSEN_LANGUAGE = web.RequestKey("console_language", str)
MAX_HEADER = 500


def negotiate(header: str, available: list[str]) -> str:
    """The best language of an Accept-Language header we have a catalog for, or "" (RFC 9110 section 12.5.4)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:MAX_HEADER].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary and quality > 0:
            ranked.append((-quality, position, primary))
    for _quality, _position, primary in sorted(ranked):
        if primary in available:
            return primary
    return ""


def available_languages() -> list[str]:
    """Every language with a catalog: adding a catalog adds a console language."""
    return default_catalogs().languages


def request_language(request: web.Request, default: str) -> str:
    available = available_languages()
    chosen = request.get(CHOSEN_LANGUAGE, "")
    if chosen in available:
        return chosen
    return negotiate(request.headers.get("Accept-Language", ""), available) or (
        default if default in available else "en")


def translator(request: web.Request, default: str) -> Translator:
    return default_catalogs().get(request_language(request, default))


def language_choices(current: str) -> list[dict]:
    """The switcher's options, each named in its own language."""
    return [{"code": code, "name": language_name(code, code).capitalize(), "current": code == current}
            for code in available_languages()]
