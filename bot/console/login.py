"""Login and logout: the password check, the session cookie, and a generic answer on failure."""
from __future__ import annotations

import re

from aiohttp import web

from bot.actions.operators import log_in, log_out
from bot.console.auth import (
    LOGIN_COOKIE, LOGIN_PATH, SESSION_COOKIE, Visit, csrf_matches, current_visit, login_csrf, new_login_nonce,
    operator_page, safe_next, set_cookie,
)
from bot.console.layout import N_, error_page, page, say
from bot.console.live import HUB
from bot.console.throttle import THROTTLE
from bot.web import DESK, client_address

# One message for an unknown user, a wrong password and a disabled operator: no user enumeration.
WRONG = N_("Wrong username or password.")
TOO_MANY = N_("Too many failed attempts. Wait a few minutes and try again.")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _login_page(request: web.Request, status: int = 200, error: str = "", username: str = "",
                next_path: str | None = None) -> web.Response:
    settings = request.app[DESK].settings
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not _NONCE.match(nonce):
        nonce = new_login_nonce()
    response = page(request, None, "login.html", status, csrf_token=login_csrf(settings, nonce), error=say(request, error) if error else "",
                    username=username, next=safe_next(next_path if next_path is not None else request.query.get("next")))
    set_cookie(response, settings, LOGIN_COOKIE, nonce, max_age=3600, path=LOGIN_PATH)
    return response


async def login_form(request: web.Request) -> web.Response:
    """The login form; someone already logged in goes straight on."""
    if await current_visit(request) is not None:
        return see_other(safe_next(request.query.get("next")))
    return _login_page(request)


async def login_submit(request: web.Request) -> web.Response:
    """Check the form's token, then the password (argon2); open a session on success."""
    settings = request.app[DESK].settings
    form = await request.post()
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not _NONCE.match(nonce) or not csrf_matches(form.get("csrf_token"), login_csrf(settings, nonce)):
        return error_page(request, None, 403, say(request, "The login form has expired. Reload the page and try again."))
    username = str(form.get("username", "")).strip()[:100]
    password = str(form.get("password", ""))[:1024]
    next_path = str(form.get("next", ""))
    throttle = request.app[THROTTLE]
    key = throttle.key(username, client_address(request, settings.web.trusted_proxies))
    if throttle.blocked(key):
        return _login_page(request, 429, TOO_MANY, username, next_path)
    # No username holds a NUL, and PostgreSQL refuses one even in a look-up: a wrong login, not a 500.
    result = await log_in(request.app[DESK], username, password) if "\x00" not in username else None
    if result is None:
        throttle.failed(key)
        return _login_page(request, 401, WRONG, username, next_path)
    throttle.succeeded(key)
    response = see_other(safe_next(next_path))
    set_cookie(response, settings, SESSION_COOKIE, result[0], max_age=settings.web.session_minutes * 60)
    response.del_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
    return response


@operator_page
async def logout(request: web.Request, visit: Visit) -> web.Response:
    """End the session in the database and close its live sockets."""
    await log_out(request.app[DESK], visit.token)
    await request.app[HUB].drop_session(visit.token)
    response = see_other(LOGIN_PATH)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response
