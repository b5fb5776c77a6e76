"""The operator console: routes, static assets, the login throttle and the live hub, wired into the app."""
from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

from aiohttp import web

from bot.console import downloads, login, original, team, ticket_actions
from bot.console.account import account_routes
from bot.console.language_pages import language_routes
from bot.console.layout import STATIC, static_headers
from bot.console.live import HUB, Hub
from bot.console.socket import live_socket
from bot.console.throttle import THROTTLE, LoginThrottle
from bot.console.ticket_list import ticket_list
from bot.console.ticket_page import ticket_view
from bot.console.unanswered_page import unanswered_routes
from bot.web import DESK

STATIC_DIR = Path(__file__).resolve().parent / "static"
TICKET = r"/console/tickets/{number:\d{1,15}}"


async def _to_list(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/console")


def setup_console(app: web.Application) -> None:
    """Add the console's routes; the hub subscribes to the bus while the app runs."""
    hub = Hub(app[DESK])
    app[HUB] = hub
    app[THROTTLE] = LoginThrottle()

    async def live_updates(app: web.Application) -> AsyncIterator[None]:
        hub.start()
        yield
        hub.stop()

    async def close_sockets(app: web.Application) -> None:
        # on_shutdown runs before the server waits for handlers, so open sockets do not hold it up.
        await hub.close_all()

    app.cleanup_ctx.append(live_updates)
    app.on_shutdown.append(close_sockets)
    app.on_response_prepare.append(static_headers)
    app.router.add_routes([
        web.get("/console", ticket_list),
        web.get("/console/", _to_list),
        web.get("/console/login", login.login_form),
        web.post("/console/login", login.login_submit),
        web.post("/console/logout", login.logout),
        web.get("/console/ws", live_socket),
        web.get(TICKET, ticket_view),
        web.post(TICKET + "/reply", ticket_actions.reply),
        web.post(TICKET + "/note", ticket_actions.note),
        web.post(TICKET + "/take", ticket_actions.take),
        web.post(TICKET + "/resolve", ticket_actions.resolve),
        web.post(TICKET + "/reopen", ticket_actions.reopen),
        web.post(TICKET + "/transfer", ticket_actions.transfer),
        web.get(r"/console/attachments/{id:\d{1,15}}", downloads.attachment),
        web.get(r"/console/messages/{id:\d{1,15}}/original", original.original_page),
        web.get(r"/console/messages/{id:\d{1,15}}/original.eml", original.original_download),
        web.get("/console/operators", team.operators),
        *language_routes(),
        *unanswered_routes(),
        *account_routes(),
    ])
    app.router.add_static("/console/static", STATIC_DIR, name=STATIC, append_version=True)
