"""The websocket at /chat/ws: hello, resume, then the visitor's frames one at a time.

Frame-level mistakes get an error frame and the socket stays open; connection-level ones (no
hello, too many sockets from one address, a frame past the hard size limit) get an error frame
and then a close, so the widget always learns why.
"""
from __future__ import annotations

import logging
import math
import secrets
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from aiohttp import WSCloseCode, WSMsgType, web

from bot.errors import InvalidInput
from bot.web import client_address
from channels.webchat.connection import Connection
from channels.webchat.normalize import (
    CHANNEL, ChatText, Hello, Ping, ProtocolError, Seen, Typing, error_frame, max_frame_chars, parse_frame,
    to_inbound, visitor_key,
)

if TYPE_CHECKING:
    from channels.webchat.adapter import WebchatChannel

logger = logging.getLogger(__name__)
HELLO_SECONDS = 30.0
HEARTBEAT_SECONDS = 30.0


class ChatSocket(web.WebSocketResponse):
    """aiohttp closes on a frame past max_msg_size by itself; say why first."""

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True) -> bool:
        if code == WSCloseCode.MESSAGE_TOO_BIG and not self.closed:
            try:
                await self.send_json(error_frame("frame_too_large", "the frame is larger than the server accepts"))
            except Exception:  # the peer may be gone already; the close below is what matters
                pass
        return await super().close(code=code, message=message, drain=drain)


def hard_frame_bytes(max_message_chars: int) -> int:
    """Beyond this many bytes aiohttp stops reading a frame at all (UTF-8 may use 4 per character)."""
    return 4 * max_frame_chars(max_message_chars)


async def chat_socket(chat: WebchatChannel, request: web.Request) -> web.WebSocketResponse:
    """GET /chat/ws: one visitor's live conversation."""
    ws = ChatSocket(max_msg_size=hard_frame_bytes(chat.settings.max_message_chars), heartbeat=HEARTBEAT_SECONDS)
    await ws.prepare(request)
    address = client_address(request, chat.trusted_proxies)
    if chat.stopped:
        await _refuse(ws, "unavailable", "the desk is restarting; try again shortly", WSCloseCode.GOING_AWAY)
        return ws
    if not chat.counter.acquire(address):
        await _refuse(ws, "too_many_connections",
                      f"at most {chat.counter.limit} chat connections are allowed from one address",
                      WSCloseCode.TRY_AGAIN_LATER)
        return ws
    try:
        await _converse(chat, ws, address)
    finally:
        chat.counter.release(address)
    return ws


async def _refuse(ws: web.WebSocketResponse, code: str, message: str, close_code: int) -> None:
    await ws.send_json(error_frame(code, message))
    await ws.close(code=close_code, message=code.encode())


async def _hello(chat: WebchatChannel, ws: web.WebSocketResponse) -> Hello | None:
    try:
        msg = await ws.receive(timeout=HELLO_SECONDS)
    except TimeoutError:
        await _refuse(ws, "hello_required", "send a hello frame first", WSCloseCode.POLICY_VIOLATION)
        return None
    if msg.type != WSMsgType.TEXT:
        if msg.type == WSMsgType.BINARY:
            await _refuse(ws, "hello_required", "send a hello frame first (as JSON text)", WSCloseCode.POLICY_VIOLATION)
        return None
    try:
        frame = parse_frame(msg.data, chat.settings.max_message_chars)
    except ProtocolError as exc:
        frame = exc
    if not isinstance(frame, Hello):
        await _refuse(ws, "hello_required", "the first frame must be a hello frame", WSCloseCode.POLICY_VIOLATION)
        return None
    return frame


async def _converse(chat: WebchatChannel, ws: web.WebSocketResponse, address: str) -> None:
    hello = await _hello(chat, ws)
    if hello is None:
        return
    token = hello.token or secrets.token_urlsafe(32)
    conn = Connection(ws, visitor_key(token), address)
    conn.post({"type": "welcome", "token": token, "limits": chat.public_limits()})
    chat.register(conn)
    try:
        try:
            await conn.replay(chat.fetcher(conn.visitor), hello.last_seen, chat.late_fetcher(conn.visitor), hello.have)
        except Exception:
            logger.exception("replaying a web chat conversation failed")
            conn.post(error_frame("unavailable", "the conversation cannot be loaded right now; reconnecting shortly"))
            await conn.close(WSCloseCode.TRY_AGAIN_LATER, "unavailable")
            return
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await _frame(chat, conn, msg.data, hello.locale)
            elif msg.type == WSMsgType.BINARY:
                conn.post(error_frame("binary_not_supported", "frames must be JSON text, not binary"))
            if not conn.open:
                break
    finally:
        chat.unregister(conn)
        await conn.close()


async def _frame(chat: WebchatChannel, conn: Connection, raw: str, locale: str) -> None:
    try:
        frame = parse_frame(raw, chat.settings.max_message_chars)
        if isinstance(frame, ChatText):
            await _message(chat, conn, frame, locale)
        elif isinstance(frame, Typing):
            if chat.typing.acquire(conn.visitor) == 0:
                await chat.desk.client_typing(CHANNEL, conn.visitor)
        elif isinstance(frame, Seen):
            # Only what a socket carried can have been seen: a reply below up_to may still be waiting
            # for its delivery (ids are not in commit order). It is reported by a later seen, which
            # the widget sends again, with the same up_to, when it shows such a late message.
            ids = conn.unseen_up_to(frame.up_to)
            if ids:
                await chat.desk.mark_delivered(CHANNEL, conn.visitor, ids)
                conn.reported(ids)
        elif isinstance(frame, Ping):
            conn.post({"type": "pong"})
        elif isinstance(frame, Hello):
            raise ProtocolError("invalid_frame", "hello was sent already on this connection")
    except ProtocolError as exc:
        conn.post(error_frame(exc.code, str(exc), exc.client_id))
    except Exception:
        logger.exception("web chat frame failed")
        conn.post(error_frame("internal_error", "the server could not handle this frame; try again shortly"))


async def _message(chat: WebchatChannel, conn: Connection, message: ChatText, locale: str) -> None:
    wait = chat.rates.acquire(conn.visitor)
    if wait:
        conn.post(error_frame("rate_limited", f"too many messages: at most {chat.rates.limit} a minute; this one "
                              "was not stored", message.id, retry_after=math.ceil(wait)))
        return
    inbound = to_inbound(message, conn.visitor, locale, datetime.now(timezone.utc))
    try:
        receipt = await chat.desk.receive(inbound)
    except InvalidInput as exc:
        raise ProtocolError("not_accepted", str(exc), message.id) from None
    except Exception:
        logger.exception("storing a web chat message failed")
        conn.post(error_frame("unavailable", "the message could not be stored yet; it will be sent again",
                              message.id, retry_after=5))
        return
    # Acknowledge only now: the inbox has committed.
    conn.post({"type": "ack", "id": message.id, "message_id": receipt.message_id, "ticket": receipt.ticket_number})
    await chat.catch_up(conn.visitor, receipt.message_id)
