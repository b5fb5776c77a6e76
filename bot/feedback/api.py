"""REST API of client segments: read a client's segment (supervisors and up), pin it or tag the client (admins)."""
from __future__ import annotations

from aiohttp import web

from bot.actions.audit import record_read
from bot.actions.segments import pin_segment
from bot.console.api import VIEWER, operation
from bot.console.api_schema import ApiError, parse_body, utc
from bot.domain import Role
from bot.errors import NotFound
from bot.feedback.access import sees_register
from bot.storage.models import Client, ClientSegment
from bot.web import DESK

PATH = "/api/v1/clients/{client_id}/segment"


def segment_json(client_id: int, row: ClientSegment | None) -> dict:
    return {"client_id": client_id, "segment": row.segment if row else None, "computed": (row.computed or None) if row else None,
            "pinned": bool(row and row.pinned), "tags": list(row.tags) if row else [], "reason": row.reason if row else "",
            "updated_at": utc(row.updated_at) if row else None}


def _client_id(request: web.Request) -> int:
    return int(request.match_info["client_id"])


async def _read(request: web.Request, client_id: int) -> dict:
    async with request.config_dict[DESK].sessions() as s:
        if await s.get(Client, client_id) is None:
            raise NotFound(f"client {client_id} not found")
        return segment_json(client_id, await s.get(ClientSegment, client_id))


@operation("get", PATH)
async def get_segment(request: web.Request, spec: dict) -> web.Response:
    if not sees_register(request[VIEWER]):
        raise ApiError(403, "forbidden", "only supervisors, managers and admins read client segments")
    body = await _read(request, _client_id(request))
    # A segment (and its tags and reason) is personal data about the client: reads are audited.
    await record_read(request.config_dict[DESK], request[VIEWER].id, "segment", client_id=body["client_id"])
    return web.json_response(body)


@operation("post", PATH)
async def set_segment(request: web.Request, spec: dict) -> web.Response:
    viewer = request[VIEWER]
    if viewer.role is not Role.ADMIN:
        raise ApiError(403, "forbidden", "only admins pin segments and tags")
    body = await parse_body(request, spec)
    client_id = _client_id(request)
    segment = body.get("segment")
    await pin_segment(request.config_dict[DESK], client_id, segment=None if segment in (None, "rules") else segment,
                      unpin=segment == "rules", add_tags=[body["add_tag"]] if body.get("add_tag") else [],
                      remove_tags=[body["remove_tag"]] if body.get("remove_tag") else [], source="api",
                      operator_id=viewer.id, reason=body.get("reason", ""))
    return web.json_response(await _read(request, client_id))
