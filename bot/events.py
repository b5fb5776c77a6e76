"""Past-tense events and the bus that carries them to listeners after commit.

The in-process bus only carries notifications (live console and widget updates, wake-ups);
work that must survive a crash is a row with a due time. On PostgreSQL bot/pgbus.py's
PgEventBus carries them to the desk's other processes as well (LISTEN/NOTIFY).
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Awaitable, Callable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    ticket_id: int | None


@dataclass(frozen=True)
class MessageReceived(Event):
    message_id: int
    new_ticket: bool
    automated: bool = False  # an auto-reply or bounce: listeners never answer or survey it


@dataclass(frozen=True)
class MessageEdited(Event):
    """The client changed a message the desk had stored (its text now shows the edit)."""

    message_id: int


@dataclass(frozen=True)
class MessageQueued(Event):
    """An outbound message and its outbox row were committed."""

    message_id: int


@dataclass(frozen=True)
class DeliveryChanged(Event):
    message_id: int
    status: str
    error: str = ""


@dataclass(frozen=True)
class TicketChanged(Event):
    """Status, queue, assignee or priority of a ticket changed."""

    what: str


@dataclass(frozen=True)
class TicketHandedOff(Event):
    """Self-service is done with this ticket (or is off): the router now places it."""

    reason: str = ""


@dataclass(frozen=True)
class TicketResolved(Event):
    """A ticket was marked resolved (published beside TicketChanged(what="resolved"))."""


@dataclass(frozen=True)
class SurveyAnswered(Event):
    """A client gave (or changed) a survey score or comment."""

    survey_id: int
    score: int | None


@dataclass(frozen=True)
class ComplaintChanged(Event):
    """A complaint was registered, or its status, owner, category, severity or due date changed."""

    complaint_id: int
    what: str


@dataclass(frozen=True)
class FollowUpOpened(Event):
    """A supervisor of the ticket's queue should look at something (a low score, complaint words)."""

    follow_up_id: int


@dataclass(frozen=True)
class NoteAdded(Event):
    note_id: int


@dataclass(frozen=True)
class ClientTyping(Event):
    pass


@dataclass(frozen=True)
class OperatorTyping(Event):
    operator_id: int


@dataclass(frozen=True)
class ChannelNote(Event):
    """A channel asks its twin in the other desk processes to act (web chat: a reply for a socket held there)."""

    channel: str
    note: str


Listener = Callable[[Event], Awaitable[None]]
BatchListener = Callable[[list[Event]], Awaitable[None]]


class EventBus:
    """In-process publish/subscribe; listeners run as tasks so a slow one delays nobody.

    A ``batch`` listener costs one task per publish (a commit's events), not one per event: it gets
    the publish's events for it as one list, in order. A plain listener keeps a task per event (it
    may wait on a batch of its own, which must not hold up the next event).
    """

    def __init__(self) -> None:
        self._listeners: dict[type[Event], list[tuple[Callable, bool]]] = defaultdict(list)
        self._tasks: set[asyncio.Task] = set()

    def subscribe(self, event_type: type[Event], listener: Listener | BatchListener, *, everywhere: bool = False,
                  batch: bool = False) -> None:
        """Listen to ``event_type``. With several desk processes (PgEventBus) a listener runs in the
        process that published the event; ``everywhere`` listeners (live screens, wake-ups) run in
        every process. Work that must happen once stays with the publisher. A ``batch`` listener
        takes a list of events (those of one publish, of every type it subscribed to with the same
        callable)."""
        self._listeners[event_type].append((listener, batch))

    def unsubscribe(self, event_type: type[Event], listener: Callable) -> None:
        self._listeners[event_type] = [entry for entry in self._listeners[event_type] if entry[0] != listener]

    def publish(self, *events: Event) -> None:
        """Hand events to their listeners; call only after the transaction committed."""
        self._deliver(events, self._listeners)

    def _deliver(self, events, listeners: dict[type[Event], list[tuple[Callable, bool]]]) -> None:
        # Grouped per listener in publish order (dicts keep insertion order), so each listener sees its events in order.
        grouped: dict[tuple[Callable, bool], list[Event]] = {}
        for event in events:
            for entry in listeners.get(type(event), ()):
                grouped.setdefault(entry, []).append(event)
        if not grouped:
            return
        loop = asyncio.get_running_loop()
        for (listener, batch), found in grouped.items():
            if batch:
                self._start(loop, self._run(listener, found, found))
            else:
                for event in found:
                    self._start(loop, self._run(listener, event, (event,)))

    def _start(self, loop: asyncio.AbstractEventLoop, coro) -> None:
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, listener: Callable, arg, events) -> None:
        try:
            await listener(arg)
        except Exception:
            logger.exception("listener %s failed on %s", getattr(listener, "__qualname__", listener),
                             ", ".join(sorted({type(e).__name__ for e in events})))

    async def drain(self) -> None:
        """Wait for listeners already running (used at shutdown and by tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
