"""REST API of privacy requests (admins only): export a client's data, erase the personal part."""
from __future__ import annotations

from aiohttp import web

from bot.actions.privacy import erase_client, export_client
from bot.console.api import VIEWER, operation
from bot.console.api_schema import ApiError
from bot.domain import Role
from bot.web import DESK


def _admin(request: web.Request) -> str:
    viewer = request[VIEWER]
    if viewer.role is not Role.ADMIN:
        raise ApiError(403, "forbidden", "only admins export or erase client data")
    return f"api:{viewer.username}"


@operation("get", "/api/v1/clients/{client_id}/export")
async def export(request: web.Request, spec: dict) -> web.Response:
    by = _admin(request)
    data = await export_client(request.config_dict[DESK], int(request.match_info["client_id"]), by)
    return web.json_response(data, headers={"Cache-Control": "no-store"})


@operation("post", "/api/v1/clients/{client_id}/erase")
async def erase(request: web.Request, spec: dict) -> web.Response:
    by = _admin(request)
    counts = await erase_client(request.config_dict[DESK], int(request.match_info["client_id"]), by)
    return web.json_response({"client_id": int(request.match_info["client_id"]), **counts})
