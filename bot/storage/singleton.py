"""run_alone: a desk worker's loop that runs in exactly one process of those sharing a PostgreSQL.

Each process tries ``pg_try_advisory_lock`` on a connection of its own (not the pool's), every
few seconds; the holder runs the loop and checks its connection just as often. PostgreSQL frees
the lock when the holder's connection ends (the process died, was killed, or lost the network),
and the holder stops its loop as soon as it notices the connection gone, so another process takes
over within seconds and two never run the loop together for long. On SQLite the one process runs
the loop at once, as before.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.locks import _key

logger = logging.getLogger(__name__)
RETRY_SECONDS = 3.0


def dsn_of(engine: AsyncEngine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


async def run_alone(engine: AsyncEngine, name: str, body: Callable[[], Awaitable[None]],
                    retry_seconds: float = RETRY_SECONDS) -> None:
    """Run ``body()`` while this process holds the lock ``name``; on SQLite just run it. Cancel to stop."""
    if engine.dialect.name != "postgresql":
        await body()
        return
    key = _key(f"singleton:{name}")
    announced = False
    while True:
        conn = None
        try:
            conn = await asyncpg.connect(dsn_of(engine))
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                if not announced:
                    logger.info("%s runs in another desk process; this one stands by", name)
                    announced = True
                await asyncio.sleep(retry_seconds)
            logger.info("%s runs in this process now", name)
            announced = False
            await _hold(conn, body, retry_seconds)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("%s: the lock connection failed (%s); trying again in %.0f s", name, exc, retry_seconds)
        finally:
            if conn is not None:
                conn.terminate()  # ends the session: PostgreSQL frees the lock at once
        await asyncio.sleep(retry_seconds)


async def _hold(conn: asyncpg.Connection, body: Callable[[], Awaitable[None]], every: float) -> None:
    """Run ``body`` until it returns or the lock's connection stops answering (then cancel it)."""
    work = asyncio.ensure_future(body())
    try:
        while not work.done():
            done, _ = await asyncio.wait({work}, timeout=every)
            if done:
                break
            async with asyncio.timeout(every):  # not wait_for: on Python 3.11 it can swallow the stop's cancel
                await conn.fetchval("SELECT 1")
        work.result()
    finally:
        if not work.done():
            work.cancel()
            try:
                await work
            except (asyncio.CancelledError, Exception):
                pass
