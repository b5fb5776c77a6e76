"""One open visitor socket: an ordered, de-duplicated stream of the visitor's stored messages.

Frames are queued and written by the connection's own task, so a visitor whose network stalls
never holds up the outbox worker or another visitor; a queue that keeps growing closes the socket
and the widget resumes later. Each message goes out at most once per socket, and reads go out in
id order. Ids are handed out at insert while transactions commit (and deliveries push) in any
order, so a message may become visible after a newer one went out: a catch-up for a message that
its reads passed over looks below the cursor for it, and a widget that lists the ids it shows gets
the ones it lacks below its resume point; it places them by id.

Because of that order, "seen up to id N" cannot mean every reply at or below N: one may still be
waiting for its delivery. The connection keeps the ids of the desk's messages it carried that the
widget has not reported seen yet, and only those become "delivered".
"""
from __future__ import annotations

import asyncio
import json
import logging
from array import array
from collections.abc import Collection
from typing import Awaitable, Callable

from aiohttp import WSCloseCode, web

from bot.domain import ConversationEntry
from channels.webchat.normalize import entry_frame

logger = logging.getLogger(__name__)
MAX_BACKLOG = 500  # frames waiting for a slow socket before it is closed (the widget resumes)
# Ids carried but not yet reported seen (a hidden tab collects them). Past this many the oldest is
# forgotten and stays "sent": the console may under-report, never claim what the visitor did not get.
MAX_UNSEEN = 256
# Ids pushed through one socket remembered for de-duplication. Past this many the older half is
# forgotten and the floor rises above it: a message that commits late does so within moments, never
# hundreds of messages behind, and the widget's resume (hello.have) covers what a socket misses.
MAX_PUSHED = 1024
Fetch = Callable[[int], Awaitable[list[ConversationEntry]]]
# (up to id, ids the socket has) -> the recent messages at or below that id that it lacks, oldest first
FetchLate = Callable[[int, frozenset[int]], Awaitable[list[ConversationEntry]]]


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
        # Ids at or below this one are the client's business (an older widget's resume point): never sent again.
        self.floor = 0
        self.lock = asyncio.Lock()  # held while fetching, so pushes cannot overtake a replay
        self._pushed: set[int] = set()
        self._unseen = array("q")  # 8 bytes an id: the desk's messages carried, not yet reported seen
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
        if message_id in self._pushed or message_id <= self.floor:
            return
        self._pushed.add(message_id)
        if len(self._pushed) > MAX_PUSHED:
            self._forget_oldest_pushed()
        self.cursor = max(self.cursor, message_id)
        if frame.get("author") != "client" and self.open:
            self._carry((message_id,))
        self.post(frame)

    def _forget_oldest_pushed(self) -> None:
        ids = sorted(self._pushed)
        half = len(ids) // 2
        self.floor = max(self.floor, ids[half - 1])
        self._pushed = set(ids[half:])

    def unseen_up_to(self, up_to: int) -> list[int]:
        """The carried ids a ``seen`` of ``up_to`` covers: the desk's messages this socket (or, for ids the
        widget listed in hello, an earlier one) carried at or below it that were not reported yet."""
        return sorted(i for i in self._unseen if i <= up_to)

    def reported(self, ids: Collection[int]) -> None:
        """Forget ids once they are marked delivered; ones carried meanwhile stay for the next ``seen``."""
        done = set(ids)
        self._unseen = array("q", (i for i in self._unseen if i not in done))

    def _carry(self, ids: Collection[int]) -> None:
        self._unseen.extend(ids)
        if len(self._unseen) > MAX_UNSEEN:
            self._unseen = array("q", sorted(self._unseen)[-MAX_UNSEEN:])

    async def catch_up(self, fetch: Fetch, newest: int = 0, late: FetchLate | None = None) -> None:
        """Push every stored message not yet read through this socket, oldest first.

        ``newest`` is a message id known to be stored (the one just acknowledged or sent): once a
        page reaches it, the drain stops without asking for an empty page, since whatever is stored
        after it is pushed by its own catch-up or send. If the reads passed over it (it committed
        after a newer message was read), ``late`` finds it below the cursor.
        """
        async with self.lock:
            if newest and (newest in self._pushed or newest <= self.floor):
                return  # a concurrent catch-up already carried it
            if not newest or self.read < newest:
                await self._drain(fetch, self.read, newest)
            await self._late(late, (newest,))

    async def take(self, entries: list[ConversationEntry], after: int, stored: Collection[int], fetch: Fetch,
                   late: FetchLate | None = None) -> None:
        """A catch-up whose first page was read for several visitors at once (everything after ``after``);
        reads on by itself if that page stopped short of the highest id in ``stored`` (ids known stored)."""
        newest = max(stored)
        async with self.lock:
            for entry in entries:  # they hold every message after ``after`` (<= self.read) up to the last
                self.push(entry_frame(entry, self.visitor))
            if entries:
                self.read = max(self.read, entries[-1].id)
            if self.read < newest:
                await self._drain(fetch, self.read, newest)
            await self._late(late, stored)

    async def replay(self, fetch: Fetch, after: int, late: FetchLate | None = None,
                     have: frozenset[int] | None = None) -> None:
        """The resume: every message after ``after``, then ``synced``.

        ``have``: the ids the client shows. Such a client first gets the recent messages at or
        below ``after`` that it lacks (stored late), in id order. Without it (an older widget) the
        replay starts strictly after ``after``, as it always did.
        """
        async with self.lock:
            self.cursor = self.read = after
            if have is None:
                self.floor = after
            else:
                self._pushed.update(have)
                # The widget shows these, so a socket carried them; the ones never reported seen (the
                # tab was hidden when it dropped) are reported on this one. Ids of the visitor's own
                # messages among them change nothing.
                self._carry(sorted(have))
                if after and late is not None:
                    await self._push_late(late, after)
            await self._drain(fetch, after)
            self.post({"type": "synced", "last_message_id": self.cursor})

    async def _late(self, late: FetchLate | None, stored: Collection[int]) -> None:
        # An id known stored but still not carried: the reads passed over it (it committed after a newer one was read).
        if late is not None and any(i > self.floor and i not in self._pushed for i in stored):
            await self._push_late(late, self.read)

    async def _push_late(self, late: FetchLate, up_to: int) -> None:
        for entry in await late(up_to, frozenset(self._pushed)):
            if entry.id > self.floor:
                self.push(entry_frame(entry, self.visitor))

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
