"""PgEventBus: the event bus across desk processes sharing one PostgreSQL (LISTEN/NOTIFY).

Publishing runs the local listeners at once, as the in-process bus does, and NOTIFYs a small JSON
(the event's type and fields, well under PostgreSQL's 8000-byte payload limit) tagged with this
process's id. Every other process hands it to its ``everywhere`` listeners (live screens,
wake-ups); the publisher skips its own notifications, so nothing is delivered twice in one process.
One dedicated asyncpg connection listens and sends; when it drops, the bus reconnects with
back-off. Notifications are hints: what they announce is already committed, and screens and widgets
resume from the database, so one lost while reconnecting costs a delay, never data.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import uuid
from collections import defaultdict, deque
from dataclasses import asdict, fields
from typing import Callable

import asyncpg
from sqlalchemy.engine import make_url

from bot.events import Event, EventBus

logger = logging.getLogger(__name__)
CHANNEL = "helpline_events"
MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes and more
KEEPALIVE_SECONDS = 5.0
RECONNECT_SECONDS = (0.2, 5.0)
SEND_BATCH = 100  # notifications sent in one statement when a burst is queued


def asyncpg_dsn(database_url: str) -> str:
    """SQLAlchemy's postgresql+asyncpg:// URL as a plain libpq DSN for asyncpg.connect."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _event_types() -> dict[str, type[Event]]:
    found: dict[str, type[Event]] = {}
    pending = [Event]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found[sub.__name__] = sub
            pending.append(sub)
    return found


_numbers = itertools.count(1)


def encode(event: Event, origin: str) -> str | None:
    """The notification for ``event``; long text fields are cut so it fits, None if it still does not.

    Each carries a number of its own: PostgreSQL merges equal payloads sent in one statement.
    """
    data = asdict(event)
    head = {"o": origin, "n": next(_numbers), "t": type(event).__name__}
    payload = json.dumps({**head, "f": data}, separators=(",", ":"))
    if len(payload.encode("utf-8")) <= MAX_PAYLOAD:
        return payload
    for key, value in data.items():
        if isinstance(value, str) and len(value) > 200:
            data[key] = value[:200]
    payload = json.dumps({**head, "f": data}, separators=(",", ":"))
    return payload if len(payload.encode("utf-8")) <= MAX_PAYLOAD else None


def decode(payload: str, types: dict[str, type[Event]]) -> tuple[str, Event] | None:
    raw = json.loads(payload)
    cls = types.get(raw.get("t", ""))
    if cls is None:
        return None
    names = {f.name for f in fields(cls)}
    return raw.get("o", ""), cls(**{k: v for k, v in raw.get("f", {}).items() if k in names})


class PgEventBus(EventBus):
    """EventBus whose ``everywhere`` listeners also hear the events other desk processes publish."""

    def __init__(self, database_url: str, channel: str = CHANNEL):
        super().__init__()
        self.dsn = asyncpg_dsn(database_url)
        self.channel = channel
        self.origin = uuid.uuid4().hex
        self._everywhere: dict[type[Event], list[tuple[Callable, bool]]] = defaultdict(list)
        self._incoming: list[Event] = []  # heard from other processes, delivered together on the next loop turn
        self._outgoing: deque[str] | None = None  # notifications not yet sent, oldest first
        self._queued = asyncio.Event()
        self._flushed: asyncio.Event | None = None
        self._conn: asyncpg.Connection | None = None
        self._runner: asyncio.Task | None = None
        self._types = _event_types()
        self.connected = asyncio.Event()
        self.reconnects = 0

    # --- the EventBus interface ---

    def subscribe(self, event_type: type[Event], listener: Callable, *, everywhere: bool = False,
                  batch: bool = False) -> None:
        super().subscribe(event_type, listener, batch=batch)
        if everywhere:
            self._everywhere[event_type].append((listener, batch))

    def unsubscribe(self, event_type: type[Event], listener: Callable) -> None:
        super().unsubscribe(event_type, listener)
        self._everywhere[event_type] = [entry for entry in self._everywhere[event_type] if entry[0] != listener]

    def publish(self, *events: Event) -> None:
        super().publish(*events)
        self.publish_elsewhere(*events)

    def publish_elsewhere(self, *events: Event) -> None:
        """Only to the other processes' ``everywhere`` listeners (this one acted already)."""
        if self._outgoing is None:
            return  # not started (or stopped): a single process hears only itself
        for event in events:
            payload = encode(event, self.origin)
            if payload is None:
                logger.warning("%s is too large to notify other desk processes; dropped", type(event).__name__)
                continue
            self._outgoing.append(payload)
            self._flushed.clear()
            self._queued.set()

    async def drain(self) -> None:
        """Wait for local listeners and for this process's notifications to be sent."""
        while True:
            if self._flushed is not None and self._outgoing and self._runner and not self._runner.done():
                try:
                    async with asyncio.timeout(5.0):
                        await self._flushed.wait()
                except TimeoutError:
                    logger.warning("event notifications still unsent after 5 s")
            if self._incoming:
                await asyncio.sleep(0)  # heard, to be handed on at the next loop turn
            await super().drain()
            if not self._tasks and not self._incoming:
                return

    # --- lifecycle ---

    async def start(self) -> None:
        """Connect and LISTEN (fails fast if PostgreSQL cannot be reached), then keep the connection up."""
        self._outgoing = deque()
        self._flushed = asyncio.Event()
        self._flushed.set()
        await self._connect()
        self._runner = asyncio.get_running_loop().create_task(self._supervise(), name="pg-event-bus")

    async def stop(self) -> None:
        await self.drain()
        if self._runner:
            self._runner.cancel()
            try:
                await self._runner
            except asyncio.CancelledError:
                pass
            self._runner = None
        await self._close()
        self._outgoing = None

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        await conn.add_listener(self.channel, self._on_notify)
        conn.add_termination_listener(lambda _conn: self._queued.set())  # notice a lost connection at once
        self._conn = conn
        self.connected.set()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        self.connected.clear()
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 2.0)
            except Exception:
                conn.terminate()

    async def _supervise(self) -> None:
        delay = RECONNECT_SECONDS[0]
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    await self._close()
                    await self._connect()
                    self.reconnects += 1
                    logger.info("event bus: listening again after a lost connection")
                    delay = RECONNECT_SECONDS[0]
                await self._send_loop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("event bus connection lost (%s); reconnecting in %.1f s", exc, delay)
                await self._close()
                await asyncio.sleep(delay)
                delay = min(RECONNECT_SECONDS[1], delay * 2)

    async def _send_loop(self) -> None:
        """Send queued notifications in order; ping the connection when idle so a dead one is noticed."""
        conn = self._conn
        while True:
            if conn.is_closed():
                raise ConnectionError("the connection closed")
            if not self._outgoing:
                self._flushed.set()
                self._queued.clear()
                try:  # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow stop()'s cancel
                    async with asyncio.timeout(KEEPALIVE_SECONDS):
                        await self._queued.wait()
                except TimeoutError:
                    async with asyncio.timeout(KEEPALIVE_SECONDS):
                        await conn.fetchval("SELECT 1")
                continue
            batch = [self._outgoing[i] for i in range(min(len(self._outgoing), SEND_BATCH))]
            try:
                if len(batch) == 1:
                    await conn.execute("SELECT pg_notify($1, $2)", self.channel, batch[0])
                else:  # one round trip for a burst; PostgreSQL delivers them in this order
                    await conn.execute("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", self.channel, batch)
            except asyncpg.PostgresError as exc:
                if isinstance(exc, asyncpg.PostgresConnectionError):
                    raise  # kept at the head of the queue: sent on the new connection
                if len(batch) > 1:
                    await self._send_each(conn, len(batch))
                    continue
                logger.warning("event notification refused (%s); dropped", exc)
            for _ in batch:
                self._outgoing.popleft()

    async def _send_each(self, conn: asyncpg.Connection, count: int) -> None:
        """A refused burst is sent again one by one, so only the notification at fault is dropped."""
        for _ in range(count):
            try:
                await conn.execute("SELECT pg_notify($1, $2)", self.channel, self._outgoing[0])
            except asyncpg.PostgresError as exc:
                if isinstance(exc, asyncpg.PostgresConnectionError):
                    raise
                logger.warning("event notification refused (%s); dropped", exc)
            self._outgoing.popleft()

    def _on_notify(self, _conn, _pid, _channel, payload: str) -> None:
        try:
            decoded = decode(payload, self._types)
        except Exception:
            logger.warning("event bus: an unreadable notification was ignored")
            return
        if decoded is None:
            return
        origin, event = decoded
        if origin == self.origin:
            return  # delivered here when it was published
        if not self._incoming:  # asyncpg calls this once per notification; a burst is handed on as one publish
            asyncio.get_running_loop().call_soon(self._deliver_incoming)
        self._incoming.append(event)

    def _deliver_incoming(self) -> None:
        events, self._incoming = self._incoming, []
        self._deliver(events, self._everywhere)
