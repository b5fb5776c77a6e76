"""REST API of a client's audit trail (admins only): who read, exported or erased the client's data."""
from __future__ import annotations

from aiohttp import web

from bot.actions.audit import client_audit
from bot.console import openapi
from bot.console.api import VIEWER, operation
from bot.console.api_schema import ApiError, utc
from bot.domain import Role
from bot.web import DESK

PATH = "/api/v1/clients/{client_id}/audit"
openapi.SCHEMAS["AuditEntry"] = openapi._object({
    "at": {"type": "string", "format": "date-time"},
    "kind": {"type": "string", "enum": ["client_read", "client_exported", "client_erased"]},
    "who": {"type": "string", "description": "The operator's username, or `cli:USER` / `api:USER` for privacy requests."},
    "ticket": openapi._nullable({"type": "integer", "description": "The ticket read (reads only)."}),
    "via": {"type": "string", "description": "Where a read happened: `console`, `api` or `download`."},
})
openapi.PATHS[PATH] = {"get": {
    "operationId": "getClientAudit",
    "summary": "Who read, exported or erased a client's data, newest first (admins; reads at most once an hour "
               "per operator and ticket)",
    "parameters": [openapi._CLIENT],
    "responses": {"200": openapi._json("The client's audit trail.", openapi._object(
        {"client_id": {"type": "integer"}, "entries": {"type": "array", "items": openapi._ref("AuditEntry")}})),
        **openapi._errors("401", "404"), **openapi._ADMIN_ONLY},
}}


@operation("get", PATH)
async def audit(request: web.Request, spec: dict) -> web.Response:
    if request[VIEWER].role is not Role.ADMIN:
        raise ApiError(403, "forbidden", "only admins read a client's audit trail")
    client_id = int(request.match_info["client_id"])
    entries = await client_audit(request.config_dict[DESK], client_id)
    return web.json_response({"client_id": client_id, "entries": [
        {"at": utc(e.at), "kind": e.kind, "who": e.who, "ticket": e.ticket_number, "via": e.via} for e in entries]},
                             headers={"Cache-Control": "no-store"})
