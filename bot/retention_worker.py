"""Background upkeep of client data: `[retention]` every `every_hours` in one desk process (run_alone),
and, in every process, the sweep of stored files whose removal was put off (bot/actions/stored_files.py)."""
from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

from aiohttp import web

from bot.actions.context import Desk
from bot.actions.retention import apply_retention
from bot.actions.stored_files import sweep_files
from bot.storage.singleton import run_alone
from bot.web import DESK
from bot.workers import cancel_task

logger = logging.getLogger(__name__)
FIRST_DELAY_SECONDS = 60.0  # let the desk finish starting before the first, possibly long, pass
SWEEP_SECONDS = 300.0  # put-off removals wait out the store's grace period, then at most this long


async def retention_loop(desk: Desk, first_delay: float = FIRST_DELAY_SECONDS) -> None:
    """Apply retention now and then for ever; a failed pass is logged and retried next time."""
    await asyncio.sleep(first_delay)
    while True:
        try:
            await apply_retention(desk, by="desk")
        except Exception:
            logger.exception("retention pass failed; the next pass tries again")
        await asyncio.sleep(desk.settings.retention.every_hours * 3600)


async def sweep_loop(desk: Desk, every: float = SWEEP_SECONDS) -> None:
    """Remove files an erasure or retention put off, once their grace period is over.

    Safe in several processes at once: removal happens under the store's file lock and is idempotent.
    """
    while True:
        await asyncio.sleep(every)
        try:
            await sweep_files(desk)
        except Exception:
            logger.exception("stored-file sweep failed; the next sweep tries again")


def setup_retention(app: web.Application) -> None:
    """Start the sweep with the app, and the retention job when a limit is set (off, keep forever, by default)."""
    desk = app[DESK]

    async def sweep(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(sweep_loop(desk), name="file-sweep")
        yield
        await cancel_task(task)

    async def run(app: web.Application) -> AsyncIterator[None]:
        engine = desk.sessions.kw["bind"]
        task = asyncio.get_running_loop().create_task(run_alone(engine, "retention", lambda: retention_loop(desk)),
                                                      name="retention")
        yield
        await cancel_task(task)

    app.cleanup_ctx.append(sweep)
    if desk.settings.retention.enabled:
        app.cleanup_ctx.append(run)
