"""The live hub: turns bus events into websocket frames for the operators allowed to see them.

Each event costs one or two queries (the ticket's row, the message or note), whatever the number
of sockets; every socket's viewer is then checked with the same policy the pages use. Events are
handled one at a time, in the order they were published, so a delivery frame never overtakes the
message it is about. A new follow-up goes to the supervisors and managers whose Follow-ups page
would list it.
"""
from __future__ import annotations

import asyncio
import json
import logging
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.access import Viewer
from bot.actions.context import Desk
from bot.console.present import is_mine, message_dict, note_dict, ticket_dict
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
        if self.ws.closed:
            return
        try:
            await asyncio.wait_for(self.ws.send_str(json.dumps(frame)), SEND_TIMEOUT)
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
        self._lock = asyncio.Lock()

    def start(self) -> None:
        for event_type in EVENTS:
            self.desk.bus.subscribe(event_type, self.on_event, everywhere=True)  # an operator may be on any process

    def stop(self) -> None:
        for event_type in EVENTS:
            self.desk.bus.unsubscribe(event_type, self.on_event)

    async def close_all(self) -> None:
        await asyncio.gather(*(c.ws.close(code=1001, message=b"server shutting down") for c in list(self.connections)))

    async def drop_session(self, token: str) -> None:
        """Close the sockets of a session that ended (logout)."""
        doomed = [c for c in self.connections if c.token == token]
        await asyncio.gather(*(c.ws.close(code=SESSION_CLOSED, message=b"session ended") for c in doomed))

    async def on_event(self, event: Event) -> None:
        if not self.connections or event.ticket_id is None:
            return
        message = note = None
        async with self._lock:
            if isinstance(event, FollowUpOpened):
                await self._follow_up(event.follow_up_id)
                return
            async with self.desk.sessions() as s:
                row = await queries.ticket_row_by_id(s, event.ticket_id)
                if row is None:
                    return
                if isinstance(event, (MessageReceived, MessageQueued, MessageEdited)):
                    message = await queries.message_with_attachments(s, event.message_id)
                elif isinstance(event, NoteAdded):
                    note = await queries.note_by_id(s, event.note_id)
            targets = list(self.connections)
            if isinstance(event, (MessageReceived, MessageQueued, TicketChanged)):
                await self._ticket(row, targets)
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
            elif isinstance(event, NoteAdded) and note:
                await self._to_watchers(row, targets, {"type": "note", "ticket": row.number,
                                                       "note": note_dict(note, row.number, self.zone)})
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
        frame = {"type": "follow_up", "follow_up": {
            "id": row.id, "ticket": row.ticket_number, "subject": row.ticket_subject, "queue": row.queue,
            "reason": row.reason, "detail": row.detail, "score": row.score,
            "created": row.created_at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")}}
        await asyncio.gather(*(c.send(frame) for c in list(self.connections) if sees_queue_feedback(c.viewer, row.queue_id)))

    async def _ticket(self, row: queries.TicketRow, targets: list[Connection]) -> None:
        """The row to everyone who may see it; a "gone" to sockets that knew it and no longer may."""
        data = ticket_dict(row, self.zone)
        sends = []
        for c in targets:
            if c.viewer.can_see_ticket(row.queue_id, row.assignee_id):
                c.saw(row.id)
                sends.append(c.send({"type": "ticket", "ticket": data, "mine": is_mine(row, c.viewer)}))
            elif row.id in c.seen:
                c.forget(row.id)
                sends.append(c.send({"type": "gone", "ticket": row.number}))
        await asyncio.gather(*sends)

    async def _to_watchers(self, row, targets: list[Connection], frame: dict, skip_operator: int | None = None) -> None:
        await asyncio.gather(*(
            c.send(frame) for c in targets
            if row.id in c.watching and c.viewer.id != skip_operator
            and c.viewer.can_see_ticket(row.queue_id, row.assignee_id)))

    async def _operator_typing(self, row, targets: list[Connection], operator_id: int) -> None:
        name = next((c.viewer.display_name for c in targets if c.viewer.id == operator_id), "An operator")
        await self._to_watchers(row, targets, {"type": "typing", "ticket": row.number, "who": "operator", "name": name},
                                skip_operator=operator_id)


HUB = web.AppKey("console_hub", Hub)
