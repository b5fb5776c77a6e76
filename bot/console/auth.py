"""Console sessions: the session cookie, CSRF tokens and the guard every operator page goes through."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import wraps
from typing import Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web

from bot.access import Viewer
from bot.actions.operators import session_visit
from bot.config import Settings
from bot.console.language import CHOSEN_LANGUAGE
from bot.console.layout import error_page, texts
from bot.web import DESK

SESSION_COOKIE = "hl_session"
LOGIN_COOKIE = "hl_login"
LOGIN_PATH = "/console/login"
HOME = "/console"
# Only paths inside the console: no scheme, no host, no "//" or "/\" that browsers read as a host.
_LOCAL_PATH = re.compile(r"^/console(?:[/?#][^\s\\]*)?$")


@dataclass(frozen=True)
class Visit:
    """A request made within a live console session."""

    viewer: Viewer
    csrf: str
    token: str
    language: str = ""  # the operator's chosen console language; "" when they never chose


Handler = Callable[[web.Request, Visit], Awaitable[web.StreamResponse]]


async def current_visit(request: web.Request) -> Visit | None:
    """The session behind the request's cookie, or None when it is missing, unknown or expired."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token or len(token) > 128:
        return None
    found = await session_visit(request.app[DESK], token)
    return Visit(found[0], found[1], token, found[2]) if found else None


def csrf_matches(given: object, expected: str) -> bool:
    """Constant-time comparison; anything but a non-empty string is a mismatch."""
    if not isinstance(given, str) or not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def login_csrf(settings: Settings, nonce: str) -> str:
    """The login form's token: keyed to the nonce in the login cookie (signed double submit)."""
    return hmac.new(settings.web.secret_key.encode(), f"login:{nonce}".encode(), hashlib.sha256).hexdigest()


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


def safe_next(value: str | None) -> str:
    """Where to go after login: a console path of ours, never another site."""
    return value if value and len(value) < 2000 and _LOCAL_PATH.match(value) else HOME


def set_cookie(response: web.StreamResponse, settings: Settings, name: str, value: str, max_age: int,
               path: str = "/") -> None:
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="Lax",
                        secure=settings.web.secure_cookies)


def login_redirect(request: web.Request) -> web.HTTPSeeOther:
    """Send a visitor without a session to the login form, remembering a page they asked for."""
    target = LOGIN_PATH
    if request.method == "GET" and request.path_qs != HOME:
        target += "?" + urlencode({"next": safe_next(request.path_qs)})
    return web.HTTPSeeOther(target)


def operator_page(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Require a live session; on POST also require the session's CSRF token in the form."""
    @wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        visit = await current_visit(request)
        if visit is None:
            raise login_redirect(request)
        request[CHOSEN_LANGUAGE] = visit.language
        if request.method == "POST":
            form = await request.post()
            if not csrf_matches(form.get("csrf_token"), visit.csrf):
                _ = texts(request)
                return error_page(request, visit, 403, _("The form has expired or did not come from this console. "
                                                         "Go back, reload the page and try again."))
            if any(isinstance(value, str) and "\x00" in value for value in form.values()):
                # PostgreSQL cannot store (or even compare with) a NUL character: refuse it here, for every
                # form; worded like the actions' own refusals, which are not translated either.
                return error_page(request, visit, 400, "The form contains a NUL character, which cannot be kept: "
                                                       "remove it and send the form again.")
        return await handler(request, visit)

    return guarded
