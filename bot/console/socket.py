"""The console's websocket: session-authenticated, same-origin only; clients watch tickets they may see.

Frames from the browser: {"type": "watch", "ticket": N, "after": message id}, {"type": "list",
"tickets": [N, ...]}, {"type": "typing", "ticket": N}, {"type": "ping"}. Frames to it: see live.py.
"""
from __future__ import annotations

import asyncio
import json
import time

from aiohttp import WSMsgType, web
from yarl import URL

from bot.actions.operators import session_viewer
from bot.console.auth import current_visit
from bot.console.live import HUB, SESSION_CLOSED, Connection
from bot.console.present import message_dict
from bot.events import OperatorTyping
from bot.storage import queries
from bot.web import DESK, PUBLIC_URL

MAX_WATCHED = 20
MAX_LISTED = 500
TYPING_EVERY = 2.0  # seconds between typing notices per ticket and socket


def _origin(url: str) -> str:
    parsed = URL(url)
    return str(parsed.origin()).lower() if parsed.scheme and parsed.host else ""


def origin_allowed(request: web.Request) -> bool:
    """A browser always sends Origin on a websocket; only our own pages may open one (no CSWSH)."""
    origin = request.headers.get("Origin", "").lower()
    own = {_origin(request.app[PUBLIC_URL]), _origin(f"{request.scheme}://{request.host}")} - {""}
    return bool(origin) and origin in own


async def live_socket(request: web.Request) -> web.StreamResponse:
    """Authenticate by the session cookie, then serve the socket until it closes or the session ends."""
    visit = await current_visit(request)
    if visit is None:
        return web.Response(status=401, text="log in to the console first")
    if not origin_allowed(request):
        return web.Response(status=403, text="websocket from another origin refused")
    hub = request.app[HUB]
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=16 * 1024)
    await ws.prepare(request)
    conn = Connection(ws, visit.viewer, visit.token)
    hub.connections.add(conn)
    typed: dict[int, float] = {}
    try:
        while not ws.closed:
            try:
                msg = await ws.receive(timeout=hub.revalidate_seconds)
            except asyncio.TimeoutError:
                # A session that expired, was logged out or whose operator was disabled stops here.
                found = await session_viewer(request.app[DESK], conn.token)
                if found is None:
                    await ws.close(code=SESSION_CLOSED, message=b"session ended")
                    break
                conn.viewer = found[0]
                continue
            if msg.type is not WSMsgType.TEXT:
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
                continue
            await _handle(request, conn, msg.data, typed)
    finally:
        hub.connections.discard(conn)
    return ws


def _frame(data: str) -> dict | None:
    try:
        frame = json.loads(data)
    except ValueError:
        return None
    return frame if isinstance(frame, dict) and isinstance(frame.get("type"), str) else None


def _number(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**15 else None


async def _handle(request: web.Request, conn: Connection, data: str, typed: dict[int, float]) -> None:
    frame = _frame(data)
    kind = frame and frame["type"]
    if kind == "ping":
        await conn.send({"type": "pong"})
    elif kind == "watch":
        await _watch(request, conn, _number(frame.get("ticket")), _number(frame.get("after")) or 0)
    elif kind == "list":
        numbers = [n for n in (frame.get("tickets") or [])[:MAX_LISTED] if _number(n)] if isinstance(frame.get("tickets"), list) else []
        async with request.app[DESK].sessions() as s:
            for ticket_id, _, queue_id, assignee_id in await queries.ticket_access_by_numbers(s, numbers):
                if conn.viewer.can_see_ticket(queue_id, assignee_id):
                    conn.saw(ticket_id)
    elif kind == "typing":
        await _typing(request, conn, _number(frame.get("ticket")), typed)
    else:
        await conn.send({"type": "error", "error": "unknown frame"})


async def _watch(request: web.Request, conn: Connection, number: int | None, after: int) -> None:
    """Watch a visible ticket, catching up on messages after `after`; anything else is refused alike."""
    hub = request.app[HUB]
    async with request.app[DESK].sessions() as s:
        row = await queries.ticket_row_by_number(s, number) if number else None
        if row is None or not conn.viewer.can_see_ticket(row.queue_id, row.assignee_id) or len(conn.watching) >= MAX_WATCHED:
            await conn.send({"type": "error", "ticket": number, "error": "no such ticket"})
            return
        missed = await queries.ticket_messages(s, row.id, after_id=after, limit=200) if after else []
    conn.watching[row.id] = row.number
    conn.saw(row.id)
    await conn.send({"type": "watching", "ticket": row.number})
    for m in missed:
        await conn.send({"type": "message", "ticket": row.number,
                         "message": message_dict(m, row.number, row.client_name, hub.zone)})


async def _typing(request: web.Request, conn: Connection, number: int | None, typed: dict[int, float]) -> None:
    """Tell the client (through its channel) and colleagues that this operator is typing, at most every few seconds."""
    ticket_id = next((tid for tid, n in conn.watching.items() if n == number), None)
    if ticket_id is None or time.monotonic() - typed.get(ticket_id, -TYPING_EVERY) < TYPING_EVERY:
        return
    typed[ticket_id] = time.monotonic()
    async with request.app[DESK].sessions() as s:
        row = await queries.ticket_row_by_id(s, ticket_id)
    if row is not None and conn.viewer.can_see_ticket(row.queue_id, row.assignee_id):
        request.app[DESK].bus.publish(OperatorTyping(ticket_id=ticket_id, operator_id=conn.viewer.id))
