"""The signed-in operator's own account: change the password, which signs out every other session."""
from __future__ import annotations

import asyncio

from aiohttp import web

from bot.actions.operators import MAX_PASSWORD, MIN_PASSWORD, change_password
from bot.console.auth import Visit, operator_page
from bot.console.layout import console_translator, page
from bot.console.live import HUB, SESSION_CLOSED
from bot.console.throttle import THROTTLE
from bot.errors import InvalidInput
from bot.web import DESK, client_address

PATH = "/console/account"


def _texts(request: web.Request):
    return console_translator(request.app[DESK].settings.desk.default_language).gettext


def _account_page(request: web.Request, visit: Visit, status: int = 200, error: str = "", done: str = "") -> web.Response:
    return page(request, visit, "account.html", status, error=error, done=done,
                min_password=MIN_PASSWORD, max_password=MAX_PASSWORD)


@operator_page
async def account(request: web.Request, visit: Visit) -> web.Response:
    """The password form; after a change, say what was signed out."""
    _ = _texts(request)
    done = _("Your password was changed. Your other sessions and your API tokens no longer work.") \
        if request.query.get("changed") == "1" else ""
    return _account_page(request, visit, done=done)


@operator_page
async def change(request: web.Request, visit: Visit) -> web.Response:
    """Check the current password (throttled like logins), set the new one, end the other sessions."""
    _ = _texts(request)
    desk, form = request.app[DESK], await request.post()
    current = str(form.get("current_password", ""))[:MAX_PASSWORD]
    new, again = str(form.get("new_password", "")), str(form.get("new_password_again", ""))
    throttle = request.app[THROTTLE]
    key = throttle.key(visit.viewer.username, client_address(request, desk.settings.web.trusted_proxies))
    if throttle.blocked(key):
        return _account_page(request, visit, 429, _("Too many failed attempts. Wait a few minutes and try again."))
    if new != again:
        return _account_page(request, visit, 400, _("The two new passwords differ. Type the same password twice."))
    if len(new) < MIN_PASSWORD or len(new) > MAX_PASSWORD:
        return _account_page(request, visit, 400, _("The new password must have between {low} and {high} characters.")
                             .format(low=MIN_PASSWORD, high=MAX_PASSWORD))
    try:
        await change_password(desk, visit.viewer.username, new, current_password=current, keep_session=visit.token,
                              by=f"console:{visit.viewer.username}")
    except InvalidInput:
        throttle.failed(key)
        return _account_page(request, visit, 400, _("The current password is wrong."))
    throttle.succeeded(key)
    await _close_other_sockets(request, visit)
    raise web.HTTPSeeOther(PATH + "?changed=1")


async def _close_other_sockets(request: web.Request, visit: Visit) -> None:
    """Live sockets of the ended sessions in this process close now; elsewhere they fail their next check."""
    hub = request.app[HUB]
    doomed = [c for c in hub.connections if c.viewer.id == visit.viewer.id and c.token != visit.token]
    await asyncio.gather(*(c.ws.close(code=SESSION_CLOSED, message=b"session ended") for c in doomed))


def account_routes() -> list[web.RouteDef]:
    return [web.get(PATH, account), web.post(PATH, change)]
