"""What every action needs: sessions, the event bus, settings and the attachment store."""
from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator

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
    """Commit on success, roll back on error; publish the collected events only after commit."""
    async with desk.sessions() as session:
        unit = Unit(session)
        async with session.begin():
            yield unit
    desk.bus.publish(*unit.events)
