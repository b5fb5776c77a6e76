"""Attachment downloads, only for operators who may see the attachment's ticket."""
from __future__ import annotations

import asyncio

from aiohttp import web

from bot.actions.audit import record_read
from bot.console.auth import Visit, operator_page
from bot.console.layout import not_found
from bot.errors import InvalidInput
from bot.storage import queries
from bot.web import DESK, download_response


@operator_page
async def attachment(request: web.Request, visit: Visit) -> web.Response:
    """Always a download (never rendered inline); a missing file and a forbidden one look the same."""
    desk = request.app[DESK]
    async with desk.sessions() as s:
        stored = await queries.attachment_for_viewer(s, visit.viewer, int(request.match_info["id"]))
    if stored is None:
        return not_found(request, visit, "attachment")
    try:
        data = await asyncio.to_thread(desk.files.read, stored.storage_key)
    except (OSError, InvalidInput):
        return not_found(request, visit, "attachment")
    await record_read(desk, visit.viewer.id, "download", attachment_id=stored.id)
    # Stored names come from clients as sent; no control characters may reach the header.
    return download_response(data, stored.filename)
