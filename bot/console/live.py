"""The live hub: turns bus events into websocket frames for the operators allowed to see them.

Events are pushed in batches by one worker, in the order they were published, so a delivery frame
never overtakes the message it is about: whatever arrived while a batch was pushed is read with a
few queries (the tickets' rows, the messages, the notes), whatever the number of events or sockets,
and each frame is serialized once. Every socket's viewer is checked with the same policy the pages
use. A new follow-up goes to the supervisors and managers whose Follow-ups page would list it.
"""
from __future__ import annotations

import asyncio
import json
import logging
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.access import Viewer
from bot.actions.context import Desk
from bot.console.present import follow_up_parts, is_mine, message_dict, note_dict, ticket_dict
from bot.events import (
    ClientTyping, DeliveryChanged, Event, FollowUpOpened, MessageEdited, MessageQueued, MessageReceived, NoteAdded,
    OperatorTyping, TicketChanged,
)
from bot.feedback.access import sees_queue_feedback
from bot.storage import feedback_queries, queries

logger = logging.getLogger(__name__)
EVENTS = (MessageReceived, MessageQueued, MessageEdited, DeliveryChanged, TicketChanged, NoteAdded, ClientTyping,
          OperatorTyping, FollowUpOpened)
MAX_SEEN = 5000
SESSION_CLOSED = 4401
SEND_TIMEOUT = 5.0
MAX_BATCH = 500  # events read together (the ids go into one IN list)


class Connection:
    """One operator's socket: who it is, which tickets it watches and which ones it was told about."""

    def __init__(self, ws: web.WebSocketResponse, viewer: Viewer, token: str, transport: asyncio.BaseTransport | None = None):
        self.ws = ws
        self.transport = transport
        self.viewer = viewer
        self.token = token
        self.watching: dict[int, int] = {}  # ticket id -> number
        self.seen: set[int] = set()  # ticket ids this socket knows about, told when they leave its view

    def saw(self, ticket_id: int) -> None:
        if len(self.seen) >= MAX_SEEN:
            self.seen.clear()
        self.seen.add(ticket_id)

    def forget(self, ticket_id: int) -> None:
        self.seen.discard(ticket_id)
        self.watching.pop(ticket_id, None)

    async def send(self, frame: dict) -> None:
        await self.send_text(json.dumps(frame))

    def fits(self, text: str) -> bool:
        """Whether the frame goes out without waiting: the socket's buffer stays below the mark where
        aiohttp waits for the peer to read (then the send needs send_text's timeout)."""
        transport = self.transport
        if transport is None or transport.is_closing() or self.ws.closed:
            return False
        return transport.get_write_buffer_size() + 4 * len(text) < transport.get_write_buffer_limits()[1]

    async def send_text(self, text: str) -> None:
        """Send a frame serialized already (the hub serializes each push once, whatever the number of sockets)."""
        if self.ws.closed:
            return
        if self.fits(text):  # no timer needed: nothing to wait for
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                pass
            return
        try:
            async with asyncio.timeout(SEND_TIMEOUT):  # no task per frame, unlike wait_for
                await self.ws.send_str(text)
        except asyncio.TimeoutError:
            # A socket that does not read would hold up everyone's pushes: drop it; the page reconnects.
            logger.info("closing a console socket of %s that stopped reading", self.viewer.username)
            if self.transport is not None:
                self.transport.abort()
        except (ConnectionError, RuntimeError):
            pass  # the socket is closing; its handler removes it


class Hub:
    """Subscribed to the bus once per application; pushes to the sockets that may see each ticket."""

    def __init__(self, desk: Desk):
        self.desk = desk
        self.zone = ZoneInfo(desk.settings.desk.time_zone)
        self.connections: set[Connection] = set()
        self.revalidate_seconds = 60.0
        self._pending: list[tuple[Event, asyncio.Future]] = []
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        for event_type in EVENTS:
            # An operator may be on any process; a commit's events come as one list.
            self.desk.bus.subscribe(event_type, self.on_events, everywhere=True, batch=True)

    def stop(self) -> None:
        for event_type in EVENTS:
            self.desk.bus.unsubscribe(event_type, self.on_events)

    async def close_all(self) -> None:
        await asyncio.gather(*(c.ws.close(code=1001, message=b"server shutting down") for c in list(self.connections)))

    async def drop_session(self, token: str) -> None:
        """Close the sockets of a session that ended (logout)."""
        doomed = [c for c in self.connections if c.token == token]
        await asyncio.gather(*(c.ws.close(code=SESSION_CLOSED, message=b"session ended") for c in doomed))

    async def on_events(self, events: list[Event]) -> None:
        """Queue the events for the hub's worker; returns once they were pushed (so bus.drain() waits for pushes)."""
        if not self.connections:
            return
        events = [event for event in events if event.ticket_id is not None]
        if not events:
            return
        done = asyncio.get_running_loop().create_future()
        self._pending.extend((event, done) for event in events)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="console-hub")
        await asyncio.shield(done)

    async def _work(self) -> None:
        # Whatever arrived while a batch was pushed is the next batch: a burst costs a few queries, not a few per event.
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                await self._push([event for event, _ in batch])
            except Exception:
                logger.exception("pushing %d live events failed", len(batch))
            finally:
                left = {id(done) for _, done in self._pending}  # a publish cut in two is done after its second part
                for _, done in batch:
                    if not done.done() and id(done) not in left:
                        done.set_result(None)

    async def _push(self, events: list[Event]) -> None:
        """One read for the batch's tickets, messages and notes; then the frames in the events' order.

        Messages and notes go only to sockets watching their ticket, so only those are read (a list
        page needs the ticket's row alone)."""
        watched = {ticket_id for c in self.connections for ticket_id in c.watching}
        message_ids = {e.message_id for e in events if e.ticket_id in watched
                       and isinstance(e, (MessageReceived, MessageQueued, MessageEdited))}
        async with self.desk.sessions() as s:
            rows = await queries.ticket_rows_by_ids(s, {e.ticket_id for e in events})
            messages = await queries.messages_with_attachments(s, message_ids)
            notes = {e.note_id: await queries.note_by_id(s, e.note_id) for e in events
                     if isinstance(e, NoteAdded) and e.ticket_id in watched}
        told: set[int] = set()  # a ticket's row goes out once a batch: it is read once, after all of them
        for event in events:
            if isinstance(event, FollowUpOpened):
                await self._follow_up(event.follow_up_id)
                continue
            row = rows.get(event.ticket_id)
            if row is None:
                continue
            targets = list(self.connections)
            if isinstance(event, (MessageReceived, MessageQueued, TicketChanged)) and row.id not in told:
                told.add(row.id)
                await self._ticket(row, targets)
            message = messages.get(getattr(event, "message_id", None))
            if isinstance(event, (MessageReceived, MessageQueued)) and message:
                frame = {"type": "message", "ticket": row.number,
                         "message": message_dict(message, row.number, row.client_name, self.zone)}
                await self._to_watchers(row, targets, frame)
            elif isinstance(event, MessageEdited) and message:
                # The client edited it (or an album's late item joined it): the page shows it anew.
                await self._to_watchers(row, targets, {"type": "edited", "ticket": row.number, "message": message_dict(
                    message, row.number, row.client_name, self.zone)})
            elif isinstance(event, DeliveryChanged):
                await self._to_watchers(row, targets, {"type": "delivery", "ticket": row.number,
                                                       "message_id": event.message_id, "status": event.status,
                                                       "error": event.error})
            elif isinstance(event, NoteAdded) and notes.get(event.note_id):
                await self._to_watchers(row, targets, {"type": "note", "ticket": row.number,
                                                       "note": note_dict(notes[event.note_id], row.number, self.zone)})
            elif isinstance(event, ClientTyping):
                await self._to_watchers(row, targets, {"type": "typing", "ticket": row.number, "who": "client"})
            elif isinstance(event, OperatorTyping):
                await self._operator_typing(row, targets, event.operator_id)

    async def _follow_up(self, follow_up_id: int) -> None:
        """A new follow-up to every socket whose viewer the Follow-ups page would show it to."""
        async with self.desk.sessions() as s:
            row = await feedback_queries.follow_up(s, follow_up_id)
        if row is None:
            return
        scored, comment = follow_up_parts(row.detail)
        frame = {"type": "follow_up", "follow_up": {
            "id": row.id, "ticket": row.ticket_number, "subject": row.ticket_subject, "queue": row.queue,
            "reason": row.reason, "detail": row.detail, "score": row.score,
            "scored": scored is not None, "comment": comment,  # the script words the score in the page's language
            "created": row.created_at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")}}
        await asyncio.gather(*(c.send(frame) for c in list(self.connections) if sees_queue_feedback(c.viewer, row.queue_id)))

    async def _ticket(self, row: queries.TicketRow, targets: list[Connection]) -> None:
        """The row to everyone who may see it; a "gone" to sockets that knew it and no longer may."""
        data = ticket_dict(row, self.zone)
        texts: dict[bool, str] = {}  # serialized once per event: "mine" or not
        sends = []
        for c in targets:
            if c.viewer.can_see_ticket(row.queue_id, row.assignee_id):
                c.saw(row.id)
                mine = is_mine(row, c.viewer)
                if mine not in texts:
                    texts[mine] = json.dumps({"type": "ticket", "ticket": data, "mine": mine})
                sends.append((c, texts[mine]))
            elif row.id in c.seen:
                c.forget(row.id)
                sends.append((c, json.dumps({"type": "gone", "ticket": row.number})))
        await _send_all(sends)

    async def _to_watchers(self, row, targets: list[Connection], frame: dict, skip_operator: int | None = None) -> None:
        watchers = [c for c in targets if row.id in c.watching and c.viewer.id != skip_operator
                    and c.viewer.can_see_ticket(row.queue_id, row.assignee_id)]
        if watchers:
            text = json.dumps(frame)
            await _send_all([(c, text) for c in watchers])

    async def _operator_typing(self, row, targets: list[Connection], operator_id: int) -> None:
        name = next((c.viewer.display_name for c in targets if c.viewer.id == operator_id), "An operator")
        await self._to_watchers(row, targets, {"type": "typing", "ticket": row.number, "who": "operator", "name": name},
                                skip_operator=operator_id)


async def _send_all(sends: list[tuple[Connection, str]]) -> None:
    """Frames that go out at once are written in turn (no task each); the rest wait side by side."""
    waiting = []
    for conn, text in sends:
        if conn.fits(text):
            await conn.send_text(text)
        else:
            waiting.append(conn.send_text(text))
    if waiting:
        await asyncio.gather(*waiting)


HUB = web.AppKey("console_hub", Hub)
