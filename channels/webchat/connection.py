"""One open visitor socket: an ordered, de-duplicated stream of the visitor's stored messages.

Frames are queued and written by the connection's own task, so a visitor whose network stalls
never holds up the outbox worker or another visitor; a queue that keeps growing closes the socket
and the widget resumes later. Message frames go out in id order, each at most once per socket,
which is what lets the widget resume from the highest message id it has seen.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Awaitable, Callable

from aiohttp import WSCloseCode, web

from bot.domain import ConversationEntry
from channels.webchat.normalize import entry_frame

logger = logging.getLogger(__name__)
MAX_BACKLOG = 500  # frames waiting for a slow socket before it is closed (the widget resumes)
Fetch = Callable[[int], Awaitable[list[ConversationEntry]]]


class Connection:
    """A visitor's websocket and what has been pushed through it."""

    def __init__(self, ws: web.WebSocketResponse, visitor: str, address: str):
        self.ws = ws
        self.visitor = visitor
        self.address = address
        self.cursor = 0  # the highest message id pushed through this socket
        # Every stored message up to this id was pushed: catch-ups read after it. A reply pushed
        # directly (send) may run ahead of it; an older message stored meanwhile is still read.
        self.read = 0
        self.seen = 0  # the highest id already reported as delivered
        self.lock = asyncio.Lock()  # held while fetching, so pushes cannot overtake a replay
        self._pushed: set[int] = set()
        self._queue: asyncio.Queue[dict | None] = asyncio.Queue()
        self._closing = False
        self._closer: asyncio.Task | None = None
        self._writer = asyncio.get_running_loop().create_task(self._write(), name="webchat-writer")

    @property
    def open(self) -> bool:
        return not self._closing and not self.ws.closed

    def post(self, frame: dict) -> None:
        """Queue one frame; never blocks."""
        if not self.open:
            return
        if self._queue.qsize() >= MAX_BACKLOG:
            logger.info("closing a web chat socket that stopped reading (%s)", self.address)
            self._closer = asyncio.get_running_loop().create_task(self.close(WSCloseCode.TRY_AGAIN_LATER, "too slow"))
            return
        self._queue.put_nowait(frame)

    def push(self, frame: dict) -> None:
        """Queue a message frame unless this socket carried it already (call with ``lock`` held)."""
        message_id = frame["message_id"]
        if message_id in self._pushed:
            return
        self._pushed.add(message_id)
        self.cursor = max(self.cursor, message_id)
        self.post(frame)

    async def catch_up(self, fetch: Fetch, newest: int = 0) -> None:
        """Push every stored message not yet read through this socket, oldest first.

        ``newest`` is a message id known to be stored (the one just acknowledged): once a page
        reaches it, the drain stops without asking for an empty page, since whatever is stored
        after it is pushed by its own catch-up or send.
        """
        async with self.lock:
            if newest and self.read >= newest:
                return  # a concurrent catch-up already carried it
            await self._drain(fetch, self.read, newest)

    async def take(self, entries: list[ConversationEntry], after: int, newest: int, fetch: Fetch) -> None:
        """A catch-up whose first page was read for several visitors at once (everything after ``after``);
        reads on by itself if that page stopped short of ``newest``."""
        async with self.lock:
            for entry in entries:  # they hold every message after ``after`` (<= self.read) up to the last
                self.push(entry_frame(entry, self.visitor))
            if entries:
                self.read = max(self.read, entries[-1].id)
            if self.read < newest:
                await self._drain(fetch, self.read, newest)

    async def replay(self, fetch: Fetch, after: int) -> None:
        """The resume: every message after ``after``, then ``synced``."""
        async with self.lock:
            self.cursor = self.read = after
            await self._drain(fetch, after)
            self.post({"type": "synced", "last_message_id": self.cursor})

    async def _drain(self, fetch: Fetch, after: int, newest: int = 0) -> None:
        # The desk answers in pages; keep asking until a page comes back empty or reaches `newest`.
        while entries := await fetch(after):
            for entry in entries:
                self.push(entry_frame(entry, self.visitor))
            after = self.read = max(self.read, entries[-1].id)
            if newest and after >= newest:
                return

    async def _write(self) -> None:
        while (frame := await self._queue.get()) is not None:
            try:
                try:
                    await self.ws.send_str(json.dumps(frame, ensure_ascii=False, separators=(",", ":")))
                except UnicodeEncodeError:
                    # A lone surrogate in stored text cannot be UTF-8; JSON's \u escapes can carry it.
                    await self.ws.send_str(json.dumps(frame, separators=(",", ":")))
            except Exception as exc:  # the peer went away mid-write; the receive loop ends too
                logger.debug("web chat socket write failed: %s", exc)
                self._closing = True
                return

    async def close(self, code: int = WSCloseCode.GOING_AWAY, reason: str = "") -> None:
        """Send what is queued, then close; safe to call more than once."""
        if not self._closing:
            self._closing = True
            self._queue.put_nowait(None)
        if asyncio.current_task() is not self._writer:
            done, _ = await asyncio.wait({self._writer}, timeout=5)
            if not done:
                self._writer.cancel()
        if not self.ws.closed:
            await self.ws.close(code=code, message=reason.encode()[:120])
