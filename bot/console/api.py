"""The REST API under /api/v1: bearer tokens, tickets addressed by number, JSON everywhere.

Handlers parse (against the OpenAPI document), call one action or query, and render. Access
comes from the token's operator through the same Viewer policy and actions as the console, and a
ticket the caller may not see is answered exactly like a missing one.
"""
from __future__ import annotations

import logging
import re

from aiohttp import web

from bot.access import Viewer
from bot.actions import tickets as ticket_actions
from bot.actions.audit import record_read
from bot.actions.operators import token_viewer
from bot.console import openapi
from bot.console.api_schema import (
    ApiError, error_body, message_json, note_json, parse_body, parse_query, ticket_json,
)
from bot.errors import Forbidden, InvalidInput, NotFound
from bot.storage import queries
from bot.storage.queries import TicketRow
from bot.web import DESK

logger = logging.getLogger(__name__)
PREFIX = "/api"
VIEWER = web.RequestKey("api_viewer", Viewer)
_TOKEN = re.compile(r"^hl_[A-Za-z0-9_-]{1,200}$")
_routes: list[tuple[str, str, object]] = []  # (method, document path, handler)


def operation(method: str, path: str):
    """Register a handler for a documented operation; the handler gets that operation's spec."""
    spec = openapi.operation(method, path)

    def register(handler):
        async def run(request: web.Request) -> web.StreamResponse:
            return await handler(request, spec)
        run.__name__ = handler.__name__
        _routes.append((method.upper(), path, run))
        return handler
    return register


def _json(data: dict, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


async def _authenticate(request: web.Request) -> Viewer:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <token> (an operator's token from "
                       "`helpline tokens create USERNAME`)", headers={"WWW-Authenticate": 'Bearer realm="helpline"'})
    viewer = await token_viewer(request.config_dict[DESK], token) if _TOKEN.match(token) else None
    if viewer is None:
        raise ApiError(401, "invalid_token", "the token is unknown or revoked, or its operator is disabled",
                       headers={"WWW-Authenticate": 'Bearer realm="helpline", error="invalid_token"'})
    return viewer


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """Authenticate /api/v1 and turn every failure into the documented JSON error, never a bare 500."""
    try:
        if request.path.startswith(PREFIX + "/v1/") or request.path == PREFIX + "/v1":
            request[VIEWER] = await _authenticate(request)
        response = await handler(request)
    except ApiError as exc:
        response = _json(error_body(exc.code, str(exc), exc.field), exc.status)
        response.headers.update(exc.headers)
    except web.HTTPException as exc:  # the router's 404 and 405
        response = _json(error_body(*_http_error(request, exc)), exc.status)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
    except NotFound as exc:
        response = _json(error_body("not_found", str(exc)), 404)
    except Forbidden as exc:
        response = _json(error_body("forbidden", str(exc)), 403)
    except InvalidInput as exc:
        response = _json(error_body("invalid_input", str(exc)), 422)
    except Exception:
        logger.exception("API request %s %s failed", request.method, request.path)
        response = _json(error_body("internal", "the desk failed to handle this request; it is logged"), 500)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _http_error(request: web.Request, exc: web.HTTPException) -> tuple[str, str]:
    if exc.status == 404:
        return "not_found", f"there is no API endpoint {request.path} (see {PREFIX}/openapi.json)"
    if exc.status == 405:
        return "method_not_allowed", f"{request.method} is not allowed here; use {exc.headers.get('Allow', 'another method')}"
    return "http_error", exc.reason


async def _ticket(request: web.Request) -> TicketRow:
    """The ticket in the path, when the caller may see it; otherwise 404 as if it did not exist."""
    number = int(request.match_info["number"])
    async with request.config_dict[DESK].sessions() as s:
        row = await queries.ticket_row_by_number(s, number)
    if row is None or not request[VIEWER].can_see_ticket(row.queue_id, row.assignee_id):
        raise NotFound(f"ticket {number} not found")
    return row


async def _reread(request: web.Request, row: TicketRow) -> TicketRow:
    async with request.config_dict[DESK].sessions() as s:
        return await queries.ticket_row_by_number(s, row.number)


async def _act(row: TicketRow, action, *args, **kwargs):
    """Run a ticket action; its not-found (a race with a transfer) names the number, not the row id."""
    try:
        return await action(*args, **kwargs)
    except NotFound:
        raise NotFound(f"ticket {row.number} not found") from None


@operation("get", "/api/v1/tickets")
async def list_tickets(request: web.Request, spec: dict) -> web.Response:
    query = parse_query(request, spec)
    limit = query["limit"]
    async with request.config_dict[DESK].sessions() as s:
        if "queue" in query and query["queue"] not in await queries.queue_names(s):
            raise ApiError(422, "invalid_field", f"there is no queue {query['queue']!r}", "queue")
        rows = await queries.list_tickets(
            s, request[VIEWER], status=query.get("status"), queue=query.get("queue"), assignee=query.get("assignee"),
            limit=limit + 1, newest_first=True, before_number=int(query["cursor"]) if "cursor" in query else None)
    more = len(rows) > limit
    rows = rows[:limit]
    return _json({"tickets": [ticket_json(r) for r in rows], "next_cursor": str(rows[-1].number) if more else None})


@operation("get", "/api/v1/tickets/{number}")
async def get_ticket(request: web.Request, spec: dict) -> web.Response:
    row = await _ticket(request)
    await record_read(request.config_dict[DESK], request[VIEWER].id, "api", ticket_id=row.id)
    return _json(ticket_json(row))


@operation("get", "/api/v1/tickets/{number}/messages")
async def list_messages(request: web.Request, spec: dict) -> web.Response:
    query = parse_query(request, spec)
    row = await _ticket(request)
    await record_read(request.config_dict[DESK], request[VIEWER].id, "api", ticket_id=row.id)
    async with request.config_dict[DESK].sessions() as s:
        messages = await queries.ticket_messages(s, row.id, after_id=query["after"], limit=query["limit"] + 1)
    more = len(messages) > query["limit"]
    messages = messages[:query["limit"]]
    return _json({"messages": [message_json(m) for m in messages], "has_more": more,
                  "next_after": messages[-1].id if messages else query["after"]})


@operation("post", "/api/v1/tickets/{number}/messages")
async def reply(request: web.Request, spec: dict) -> web.Response:
    row = await _ticket(request)
    body = await parse_body(request, spec)
    desk = request.config_dict[DESK]
    message_id = await _act(row, ticket_actions.reply_to_ticket, desk, request[VIEWER], row.id, body["text"])
    async with desk.sessions() as s:
        message, = await queries.ticket_messages(s, row.id, after_id=message_id - 1, limit=1)
    return _json(message_json(message), 201)


@operation("get", "/api/v1/tickets/{number}/notes")
async def list_notes(request: web.Request, spec: dict) -> web.Response:
    row = await _ticket(request)
    await record_read(request.config_dict[DESK], request[VIEWER].id, "api", ticket_id=row.id)
    async with request.config_dict[DESK].sessions() as s:
        notes = await queries.ticket_notes(s, row.id)
    return _json({"notes": [note_json(n) for n in notes]})


@operation("post", "/api/v1/tickets/{number}/notes")
async def add_note(request: web.Request, spec: dict) -> web.Response:
    row = await _ticket(request)
    body = await parse_body(request, spec)
    desk = request.config_dict[DESK]
    note_id = await _act(row, ticket_actions.add_note, desk, request[VIEWER], row.id, body["text"])
    async with desk.sessions() as s:
        note = next(n for n in await queries.ticket_notes(s, row.id) if n.id == note_id)
    return _json(note_json(note), 201)


@operation("post", "/api/v1/tickets/{number}/resolve")
async def resolve(request: web.Request, spec: dict) -> web.Response:
    row = await _ticket(request)
    await parse_body(request, spec)
    await _act(row, ticket_actions.resolve_ticket, request.config_dict[DESK], request[VIEWER], row.id)
    return _json(ticket_json(await _reread(request, row)))


@operation("post", "/api/v1/tickets/{number}/transfer")
async def transfer(request: web.Request, spec: dict) -> web.Response:
    row = await _ticket(request)
    body = await parse_body(request, spec)
    if not body.get("queue") and not body.get("operator"):
        raise ApiError(422, "missing_field", "name a queue or an operator (or both) to transfer to", "queue")
    await _act(row, ticket_actions.transfer_ticket, request.config_dict[DESK], request[VIEWER], row.id,
               queue=body.get("queue"), operator=body.get("operator"), note=body.get("note", ""))
    # The caller moved it, so they learn where it went even when it has left their queues.
    return _json(ticket_json(await _reread(request, row)))


async def openapi_document(request: web.Request) -> web.Response:
    return _json(openapi.DOCUMENT)


def _route_path(document_path: str) -> str:
    """/api/v1/tickets/{number} -> /v1/tickets/{number:\\d{1,18}} inside the /api sub-application."""
    return (document_path[len(PREFIX):].replace("{number}", r"{number:\d{1,18}}")
            .replace("{client_id}", r"{client_id:\d{1,18}}"))


def setup_api(app: web.Application) -> None:
    """Mount the API as a sub-application at /api, so its middleware touches no other page."""
    api = web.Application(middlewares=[json_errors])
    api.router.add_get("/openapi.json", openapi_document, allow_head=False)
    for method, path, handler in _routes:
        api.router.add_route(method, _route_path(path), handler)
    app.add_subapp(PREFIX, api)


# Operations other modules add to the one document and router (registered on import).
from bot.feedback import api as _feedback_api  # noqa: E402,F401
from bot.console import privacy_api as _privacy_api  # noqa: E402,F401
from bot.console import audit_api as _audit_api  # noqa: E402,F401
