"""The console's websocket: session-authenticated, same-origin only; clients watch tickets they may see.

Frames from the browser: {"type": "watch", "ticket": N, "after": message id}, {"type": "list",
"tickets": [N, ...], "since": server time}, {"type": "typing", "ticket": N}, {"type": "ping"}.
Frames to it: "watching", "listed", "error", "pong", and the pushes described in live.py.
"""
from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta

from aiohttp import WSMsgType, web
from yarl import URL

from bot.actions.audit import record_read
from bot.actions.operators import session_viewer
from bot.console.auth import current_visit
from bot.console.live import HUB, SESSION_CLOSED, Connection
from bot.console.present import is_mine, message_dict, ticket_dict
from bot.events import OperatorTyping
from bot.storage import queries
from bot.storage.models import utcnow
from bot.web import DESK, PUBLIC_URL

MAX_WATCHED = 20
MAX_LISTED = 500
TYPING_EVERY = 2.0  # seconds between typing notices per ticket and socket
typing_clock = time.monotonic  # tests freeze it: the throttle must not depend on how fast frames are handled


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
    conn = Connection(ws, visit.viewer, visit.token, request.transport)
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
    except (ValueError, RecursionError):  # deep nesting fits well inside the frame limit
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
        await _listed(request, conn, frame.get("tickets"), frame.get("since"))
    elif kind == "typing":
        await _typing(request, conn, _number(frame.get("ticket")), typed)
    else:
        await conn.send({"type": "error", "error": "unknown frame"})


async def _watch(request: web.Request, conn: Connection, number: int | None, after: int) -> None:
    """Watch a visible ticket, catching up on what changed since the page was rendered; anything else is refused alike."""
    hub = request.app[HUB]
    async with request.app[DESK].sessions() as s:
        row = await queries.ticket_row_by_number(s, number) if number else None
        if row is None or not conn.viewer.can_see_ticket(row.queue_id, row.assignee_id) or len(conn.watching) >= MAX_WATCHED:
            await conn.send({"type": "error", "ticket": number, "error": "no such ticket"})
            return
        # Watch first, then read: whatever commits in between arrives as a frame, or in this read, or both.
        conn.watching[row.id] = row.number
        conn.saw(row.id)
        missed = await queries.ticket_messages(s, row.id, after_id=after, limit=200) if after else []
        states = await queries.delivery_states(s, row.id)
    if missed:  # the catch-up shows the client's messages: a read like the ticket page's
        await record_read(request.app[DESK], conn.viewer.id, "live", ticket_id=row.id)
    await conn.send({"type": "watching", "ticket": row.number})
    await conn.send({"type": "ticket", "ticket": ticket_dict(row, hub.zone), "mine": is_mine(row, conn.viewer)})
    for m in missed:
        await conn.send({"type": "message", "ticket": row.number,
                         "message": message_dict(m, row.number, row.client_name, hub.zone)})
    for message_id, status, error in reversed(states):
        await conn.send({"type": "delivery", "ticket": row.number, "message_id": message_id, "status": status, "error": error})


def _moment(value) -> datetime | None:
    """A client-echoed server time, no older than a day (older lists are reloaded, not patched)."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) and len(value) < 40 else None
    except ValueError:
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(moment, utcnow() - timedelta(days=1))


async def _listed(request: web.Request, conn: Connection, tickets, since) -> None:
    """Remember the tickets a list page shows (to tell it when one leaves the viewer's sight) and
    send what changed since the page's server time, so nothing is lost before the socket opened."""
    numbers = [n for n in tickets[:MAX_LISTED] if _number(n)] if isinstance(tickets, list) else []
    moment, now = _moment(since), utcnow()
    async with request.app[DESK].sessions() as s:
        access = await queries.ticket_access_by_numbers(s, numbers)
        changed = await queries.tickets_changed_since(s, conn.viewer, moment) if moment else []
    for ticket_id, _, queue_id, assignee_id in access:
        if conn.viewer.can_see_ticket(queue_id, assignee_id):
            conn.saw(ticket_id)
    zone = request.app[HUB].zone
    for row in reversed(changed):
        conn.saw(row.id)
        await conn.send({"type": "ticket", "ticket": ticket_dict(row, zone), "mine": is_mine(row, conn.viewer)})
    await conn.send({"type": "listed", "at": now.isoformat()})


async def _typing(request: web.Request, conn: Connection, number: int | None, typed: dict[int, float]) -> None:
    """Tell the client (through its channel) and colleagues that this operator is typing, at most every few seconds."""
    ticket_id = next((tid for tid, n in conn.watching.items() if n == number), None)
    now = typing_clock()
    if ticket_id is None or (ticket_id in typed and now - typed[ticket_id] < TYPING_EVERY):
        return
    typed[ticket_id] = now
    async with request.app[DESK].sessions() as s:
        row = await queries.ticket_row_by_id(s, ticket_id)
    if row is not None and conn.viewer.can_see_ticket(row.queue_id, row.assignee_id):
        request.app[DESK].bus.publish(OperatorTyping(ticket_id=ticket_id, operator_id=conn.viewer.id))
