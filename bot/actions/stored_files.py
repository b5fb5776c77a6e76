"""Saving a message's files side by side, and removing stored files once no row names them.

Removal, used by erasure and retention, happens after the removing transaction has committed.
They mark the files pending before their commit, so a crash right after it leaves the files to
the sweep rather than orphaned. The check runs in a fresh session after
the commit, and the store's `discard` keeps any file an upload took within its grace period
(bot/storage/files.py), so an identical upload racing the removal never ends up with a row pointing
at a deleted file. The sweep also walks the store a bounded step at a time for files no row names.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.actions.context import Desk
from bot.storage.models import Message, StoredAttachment

logger = logging.getLogger(__name__)
BATCH = 500
# Stored files each sweep checks for ones no row names: one query batch, since no index covers the
# key columns yet and each batch reads the attachment and message tables once.
SCAN = BATCH
SCAN_FROM = "stored_files.scan_from"  # desk.state: the key the next sweep's walk starts after


async def save_files(desk: Desk, files: list[tuple[bytes, int | None]]) -> list[str]:
    """Store (data, size limit) pairs durably, side by side in worker threads; their keys, in order.

    Each save waits for two fsyncs (its data, then its directory entry): one after another, a
    message's files would pay two per file, side by side about two in all; and off the event loop,
    the disk never stalls the other connections. Every file is on disk when this returns, so
    before the caller commits the rows naming them and acknowledges.
    """
    return list(await asyncio.gather(*(asyncio.to_thread(desk.files.save, data, max_bytes=limit)
                                       for data, limit in files)))


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
            for column in (Message.raw_key, Message.html_key):
                # `!= ''` repeats the partial index's condition (migration 0010), so the database uses it.
                used |= set((await s.execute(select(column).where(column != "", column.in_(chunk)))).scalars())
    return used


async def remove_unreferenced(desk: Desk, keys: set[str], now: datetime | None = None) -> Removal:
    """Delete the files of `keys` no row names any more, and drop the pending marks of those a row still
    names; call only after the removing commit (which marked them pending first: `mark_pending`)."""
    if not keys:
        return Removal()
    used = await referenced_keys(desk, keys)
    for key in used:
        desk.files.unmark(key)
    return _discard(desk, keys - used, now)


def _discard(desk: Desk, keys: set[str], now: datetime | None) -> Removal:
    result = Removal()
    stamp = now.timestamp() if now else None
    for key in sorted(keys):
        try:
            if desk.files.discard(key, stamp):
                result.removed += 1
            elif desk.files.path(key).exists():
                result.deferred += 1
        except Exception:  # a bad key or a read-only store: no row points at it any more
            logger.warning("could not remove the stored file %s", key[:12])
    return result


async def sweep_files(desk: Desk, now: datetime | None = None, scan: int = SCAN) -> Removal:
    """Finish removals put off or cut short earlier, and look for files no row names at all.

    Besides the pending marks, each sweep checks the next `scan` stored files in key order (from
    where the last sweep of this process stopped, round again at the end), so files orphaned before
    marks existed, or by a sweep that dropped a mark while the removing transaction was still open,
    are found too. The store's grace period keeps any file an upload has just taken.
    """
    pending = set(desk.files.pending())
    after = desk.state.get(SCAN_FROM, "")
    if scan > 0:
        scanned = await asyncio.to_thread(desk.files.stored_keys, after, scan)
        desk.state[SCAN_FROM] = scanned[-1] if len(scanned) == scan else ""  # a short step reached the end
    else:
        scanned = []
    result = await remove_unreferenced(desk, pending | set(scanned), now)
    if result.removed:
        logger.info("stored files: %d removed (put off, or named by no row), %d still waiting",
                    result.removed, result.deferred)
    return result
