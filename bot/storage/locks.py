"""Named locks held across processes while a singleton runs (e.g. one poller per Telegram bot).

PostgreSQL: a session-level advisory lock on a connection of its own, in autocommit so no
transaction stays open; PostgreSQL releases it when the connection ends, so a killed process
frees it. SQLite: an flock on a file beside the database, which the kernel releases when the
process dies, whatever the way.
"""
from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


def _key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


@asynccontextmanager
async def singleton_lock(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """Try to take the lock ``name`` without waiting; yields whether this process holds it while inside."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = bool((await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(name)})).scalar())
            try:
                yield got
            finally:
                if got and not conn.closed:
                    try:
                        await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(name)})
                    except Exception:  # the connection is gone, and the lock with it
                        pass
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield True  # a private database: no other process can share it
        return
    path = Path(f"{database}.{hashlib.sha256(name.encode('utf-8')).hexdigest()[:16]}.lock")
    fd = await asyncio.to_thread(os.open, path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            got = True
        except BlockingIOError:
            got = False
        yield got
    finally:
        os.close(fd)  # releases the flock
