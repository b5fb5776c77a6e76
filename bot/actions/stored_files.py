"""Removing stored files once no row names them: after the removing transaction has committed.

Used by erasure and retention. The check runs in a fresh session after the commit, and the store's
`discard` keeps any file an upload took within its grace period (bot/storage/files.py), so an
identical upload racing the removal never ends up with a row pointing at a deleted file.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.actions.context import Desk
from bot.storage.models import Message, StoredAttachment

logger = logging.getLogger(__name__)
BATCH = 500


@dataclass
class Removal:
    removed: int = 0
    deferred: int = 0  # taken by an upload moments ago: left for the sweep


async def referenced_keys(desk: Desk, keys: set[str]) -> set[str]:
    """Those of `keys` a committed attachment row or message original still names."""
    used: set[str] = set()
    ordered = sorted(keys)
    for start in range(0, len(ordered), BATCH):
        chunk = ordered[start:start + BATCH]
        async with desk.sessions() as s:
            used |= set((await s.execute(select(StoredAttachment.storage_key).where(
                StoredAttachment.storage_key.in_(chunk)))).scalars())
            used |= {k for row in (await s.execute(select(Message.raw_key, Message.html_key).where(
                Message.raw_key.in_(chunk) | Message.html_key.in_(chunk)))).all() for k in row if k in keys}
    return used


async def remove_unreferenced(desk: Desk, keys: set[str], now: datetime | None = None) -> Removal:
    """Delete the files of `keys` no row names any more; call only after the removing commit."""
    result = Removal()
    if not keys:
        return result
    stamp = now.timestamp() if now else None
    for key in sorted(keys - await referenced_keys(desk, keys)):
        try:
            if desk.files.discard(key, stamp):
                result.removed += 1
            elif desk.files.path(key).exists():
                result.deferred += 1
        except Exception:  # a bad key or a read-only store: no row points at it any more
            logger.warning("could not remove the stored file %s", key[:12])
    return result


async def sweep_files(desk: Desk, now: datetime | None = None) -> Removal:
    """Finish removals put off earlier: drop what is still unnamed, keep what a row names again."""
    pending = set(desk.files.pending())
    if not pending:
        return Removal()
    for key in await referenced_keys(desk, pending):
        desk.files.unmark(key)
    result = await remove_unreferenced(desk, pending, now)
    if result.removed:
        logger.info("stored files: %d removed after their grace period, %d still waiting", result.removed, result.deferred)
    return result
