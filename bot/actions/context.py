"""What every action needs: sessions, the event bus, settings and the attachment store."""
from __future__ import annotations

import asyncio
import contextlib
import weakref
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.events import Event, EventBus
from bot.storage.files import AttachmentStore


@dataclass
class Desk:
    sessions: async_sessionmaker
    bus: EventBus
    settings: Settings
    files: AttachmentStore
    # Per-desk state of actions that must outlive one call (the inbox's group commit, cached ids).
    state: dict = field(default_factory=dict, repr=False, compare=False)


@dataclass
class Unit:
    """One transaction and the events to publish once it has committed."""

    session: AsyncSession
    events: list[Event] = field(default_factory=list)


@asynccontextmanager
async def unit_of_work(desk: Desk) -> AsyncIterator[Unit]:
    """Commit on success, roll back on error; publish the collected events only after commit.

    On SQLite a unit holds the database's single write lock from its first read to its commit
    (BEGIN IMMEDIATE), so nothing it read can change under it; units of one process queue on an
    asyncio lock for their turn instead of polling SQLite's busy timeout. PostgreSQL units rely on
    row locks and conditional updates instead. Row locks are FOR NO KEY UPDATE (no unit changes a
    key): a locked ticket still takes rows that point at it (an SLA sync's steps, another's message),
    which with FOR UPDATE waited on the foreign key and could close a cycle with the SLA triggers
    (migration 0012). A unit that stores a message locks or updates its ticket row first.
    """
    if _in_unit.get():
        raise RuntimeError("a unit of work was opened inside another one; finish the first, then open the next")
    token = _in_unit.set(True)
    try:
        turn = _writer_turn(desk)
        async with turn or contextlib.nullcontext(), desk.sessions() as session:
            unit = Unit(session)
            async with session.begin():
                if turn is not None:
                    # The driver would send BEGIN only before the first write, leaving the reads before
                    # it without a snapshot; we take the write lock before anything is read.
                    await session.execute(text("BEGIN IMMEDIATE"))
                yield unit
    finally:
        _in_unit.reset(token)
    desk.bus.publish(*unit.events)


_in_unit: ContextVar[bool] = ContextVar("helpline_in_unit", default=False)
_WRITE_TURNS: "weakref.WeakKeyDictionary[object, asyncio.Lock]" = weakref.WeakKeyDictionary()


def _writer_turn(desk: Desk) -> asyncio.Lock | None:
    """The process's queue for SQLite's write lock (None on PostgreSQL)."""
    engine = desk.sessions.kw["bind"].sync_engine
    if engine.dialect.name != "sqlite":
        return None
    lock = _WRITE_TURNS.get(engine)
    if lock is None:
        lock = _WRITE_TURNS[engine] = asyncio.Lock()
    return lock
