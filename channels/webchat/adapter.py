"""WebchatChannel: the web chat as a channel adapter (send, typing, routes, lifecycle).

Sockets live in this process, keyed by the visitor's chat id. Every message is stored before it
is pushed, so a visitor who is offline loses nothing: the widget resumes from the last message id
it has seen when it reconnects, and lists the ids it shows, so a message stored late still reaches
it. With several desk processes, send() also relays the chat and message ids to the others
(ProcessRelay), and the process holding the visitor's socket pushes the reply from storage.
"""
from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import TYPE_CHECKING, Callable

from aiohttp import WSCloseCode, web

from bot.domain import ConversationEntry, OutboundMessage
from channels.base import DeskPort
from channels.webchat import live, uploads
from channels.webchat.connection import Connection
from channels.webchat.limits import ConnectionCounter, RateLimiter
from channels.webchat.normalize import CHANNEL, outbound_frame
from channels.webchat.pages import ChatPages

if TYPE_CHECKING:
    from bot.config import WebchatSettings  # the type only: channels do not depend on the desk's config code

logger = logging.getLogger(__name__)
TYPING_EVERY_SECONDS = 2.0  # a visitor's typing reaches the console at most this often
CATCH_UP_BATCH = 100  # visitors whose catch-ups share one read
# A shared read starts after the lowest of its visitors' ids; one further behind than this reads on its own.
SHARED_SPAN = 2000
# Messages at or below a socket's cursor looked at again for one that committed late (after newer ones
# were shown). By count, not by age: it fails only if this many newer messages of the same
# conversation were shown while one transaction was still open, and it needs no clocks in agreement.
LATE_WINDOW = 50


class WebchatChannel:
    """The embeddable chat widget, the full-page chat and their websocket."""

    name = CHANNEL

    def __init__(self, settings: WebchatSettings, desk: DeskPort, *, trusted_proxies: tuple[str, ...] = ()):
        self.settings = settings
        self.desk = desk
        self.trusted_proxies = trusted_proxies
        self.rates = RateLimiter(settings.messages_per_minute, 60.0)
        self.typing = RateLimiter(1, TYPING_EVERY_SECONDS)
        self.counter = ConnectionCounter(settings.connections_per_address)
        self.pages = ChatPages(settings.max_message_chars, settings.max_attachment_bytes, settings.allowed_origins)
        self.stopped = False
        self._chats: dict[str, set[Connection]] = {}
        self._relay: Callable[[str], None] | None = None  # set when other desk processes may hold sockets
        self._catching_up: dict[str, list] = {}  # visitor -> [ids known stored, waiting futures]
        self._catcher: asyncio.Task | None = None

    async def start(self) -> None:
        """Nothing to connect to: the web chat receives through the desk's own web server."""
        self.stopped = False

    async def stop(self) -> None:
        """Close every open socket (the widgets reconnect and resume); safe to call twice."""
        await self.close_connections()

    async def close_connections(self) -> None:
        """At server shutdown: refuse new sockets and close the open ones, so shutdown need not wait."""
        self.stopped = True
        connections = [conn for conns in self._chats.values() for conn in conns]
        self._chats.clear()
        if connections:
            await asyncio.gather(*(conn.close(WSCloseCode.GOING_AWAY, "restarting") for conn in connections),
                                 return_exceptions=True)

    async def send(self, message: OutboundMessage) -> str:
        """Push a stored reply to every open socket of the visitor; offline visitors get it on resume."""
        frame = outbound_frame(message)
        for conn in list(self._chats.get(message.chat_id, ())):
            async with conn.lock:
                conn.push(frame)
        if self._relay is not None:
            # The visitor's sockets may be on another process; the id lets it find a reply its reads passed over.
            self._relay(f"{message.chat_id} {message.message_id}")
        return str(message.message_id)

    def set_relay(self, relay: Callable[[str], None]) -> None:
        self._relay = relay

    async def relayed(self, note: str) -> None:
        """Another process sent a reply (note: "<chat id> <message id>"; an older process sends the chat
        id alone): sockets held here catch up from the database."""
        chat_id, _, message_id = note.partition(" ")
        if chat_id in self._chats:
            await self.catch_up(chat_id, int(message_id) if message_id.isdigit() else 0)

    async def show_typing(self, chat_id: str) -> None:
        for conn in list(self._chats.get(chat_id, ())):
            conn.post({"type": "typing", "author": "operator"})

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.pages.demo, name="webchat-demo"),
            web.get("/chat", self.pages.chat, name="webchat-chat"),
            web.get("/chat/ws", partial(live.chat_socket, self), name="webchat-ws"),
            web.get("/widget.js", self.pages.widget, name="webchat-widget"),
            web.get(r"/chat/static/{name}", self.pages.static, name="webchat-static"),
            web.post("/chat/upload", partial(uploads.upload, self), name="webchat-upload"),
            web.get(r"/chat/attachments/{id:\d{1,18}}", partial(uploads.download, self), name="webchat-attachment"),
        ]

    # --- the registry of open sockets, used by live.py and uploads.py ---

    def register(self, conn: Connection) -> None:
        self._chats.setdefault(conn.visitor, set()).add(conn)

    def unregister(self, conn: Connection) -> None:
        conns = self._chats.get(conn.visitor)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._chats[conn.visitor]

    def connections(self, visitor: str) -> list[Connection]:
        return list(self._chats.get(visitor, ()))

    def fetcher(self, visitor: str):
        """The visitor's stored messages after an id, as Connection.replay and catch_up ask for them."""
        async def fetch(after: int) -> list[ConversationEntry]:
            return await self.desk.conversation(CHANNEL, visitor, after)
        return fetch

    def late_fetcher(self, visitor: str):
        """The visitor's recent messages at or below an id that a socket lacks (they committed late)."""
        async def late(up_to: int, have: frozenset[int]) -> list[ConversationEntry]:
            return await self.desk.late_messages(CHANNEL, visitor, up_to, have, LATE_WINDOW)
        return late

    async def catch_up(self, visitor: str, newest: int = 0) -> None:
        """Push what was stored since each socket's cursor (a new message shows in every open tab);
        ``newest``: a message id known to be stored, where the reading may stop.

        Catch-ups with a known id that arrive while others are read share one read (a crowd of
        visitors costs a query per batch, not per message); returns once this visitor's is done.
        """
        if not newest:
            fetch = self.fetcher(visitor)
            for conn in self.connections(visitor):
                await conn.catch_up(fetch, newest, self.late_fetcher(visitor))
            return
        done = asyncio.get_running_loop().create_future()
        stored, waiting = self._catching_up.setdefault(visitor, [set(), []])
        stored.add(newest)  # each id, not only the highest: a lower one may have committed late
        waiting.append(done)
        if self._catcher is None or self._catcher.done():
            self._catcher = asyncio.get_running_loop().create_task(self._catch_up_batches(), name="webchat-catch-up")
        await asyncio.shield(done)

    async def _catch_up_batches(self) -> None:
        while self._catching_up:
            batch = dict(list(self._catching_up.items())[:CATCH_UP_BATCH])
            for visitor in batch:
                del self._catching_up[visitor]
            error = None
            try:
                await self._catch_up_together({visitor: stored for visitor, (stored, _) in batch.items()})
            except Exception as exc:  # the callers report it, as a catch-up of their own would
                error = exc
            for _, waiting in batch.values():
                for done in waiting:
                    if done.done():
                        continue
                    if error is None:
                        done.set_result(None)
                    else:
                        done.set_exception(error)

    async def _catch_up_together(self, stored: dict[str, set[int]]) -> None:
        conns = {visitor: self.connections(visitor) for visitor in stored}
        after = {visitor: min(c.read for c in cs) for visitor, cs in conns.items() if cs}
        high = max(after.values(), default=0)
        shared = {visitor: read for visitor, read in after.items() if read >= high - SHARED_SPAN}
        found = await self.desk.conversations(CHANNEL, shared) if shared else {}
        for visitor, cs in conns.items():
            for conn in cs:
                await conn.take(found.get(visitor, []), after[visitor], stored[visitor], self.fetcher(visitor),
                                self.late_fetcher(visitor))

    def public_limits(self) -> dict:
        return {"max_message_chars": self.settings.max_message_chars,
                "max_attachment_bytes": self.settings.max_attachment_bytes,
                "messages_per_minute": self.settings.messages_per_minute,
                "accept": self.pages.limits["accept"]}
