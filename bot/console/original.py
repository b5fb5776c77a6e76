"""A message's original as received (an email): its full text, sanitized HTML and the raw file.

HTML from outside is cleaned again here with nh3 whatever the channel stored, and the page's
Content-Security-Policy (no inline scripts, images only from the desk) is the second wall.
"""
from __future__ import annotations

import asyncio

import nh3
from aiohttp import web

from bot.actions.audit import record_read
from bot.console.auth import Visit, operator_page
from bot.console.layout import not_found, page
from bot.errors import InvalidInput
from bot.storage import queries
from bot.web import DESK, download_response

HTML_TAGS = set(nh3.ALLOWED_TAGS) - {"img", "area", "map"}


def clean_html(html: str) -> str:
    """HTML safe to place in a console page: no scripts, styles, frames, forms, images or handlers."""
    return nh3.clean(html, tags=HTML_TAGS, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer nofollow", strip_comments=True)


async def _message(request: web.Request, visit: Visit):
    async with request.app[DESK].sessions() as s:
        return await queries.message_for_viewer(s, visit.viewer, int(request.match_info["id"]))


def _read(desk, key: str) -> bytes | None:
    try:
        return desk.files.read(key)
    except (OSError, InvalidInput):
        return None


@operator_page
async def original_page(request: web.Request, visit: Visit) -> web.Response:
    """The message in full: its text with the folded part, the sanitized HTML, and a link to the raw file."""
    desk = request.app[DESK]
    found = await _message(request, visit)
    if found is None:
        return not_found(request, visit, "message")
    message, number = found
    await record_read(desk, visit.viewer.id, "console", ticket_id=message.ticket_id)
    html = ""
    if message.html_key:
        data = await asyncio.to_thread(_read, desk, message.html_key)
        html = clean_html(data.decode("utf-8", "replace")) if data else ""
    return page(request, visit, "original.html", message=message, number=number, html=html,
                has_raw=bool(message.raw_key))


@operator_page
async def original_download(request: web.Request, visit: Visit) -> web.Response:
    """The original exactly as received, always as a download."""
    desk = request.app[DESK]
    found = await _message(request, visit)
    if found is None or not found[0].raw_key:
        return not_found(request, visit, "message")
    data = await asyncio.to_thread(_read, desk, found[0].raw_key)
    if data is None:
        return not_found(request, visit, "message")
    await record_read(desk, visit.viewer.id, "download", ticket_id=found[0].ticket_id)
    return download_response(data, f"message-{found[0].id}.eml")
