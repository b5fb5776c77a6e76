"""The retention job: applies `[retention]` every `every_hours` in one desk process (run_alone)."""
from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

from aiohttp import web

from bot.actions.context import Desk
from bot.actions.retention import apply_retention
from bot.storage.singleton import run_alone
from bot.web import DESK
from bot.workers import cancel_task

logger = logging.getLogger(__name__)
FIRST_DELAY_SECONDS = 60.0  # let the desk finish starting before the first, possibly long, pass


async def retention_loop(desk: Desk, first_delay: float = FIRST_DELAY_SECONDS) -> None:
    """Apply retention now and then for ever; a failed pass is logged and retried next time."""
    await asyncio.sleep(first_delay)
    while True:
        try:
            await apply_retention(desk, by="desk")
        except Exception:
            logger.exception("retention pass failed; the next pass tries again")
        await asyncio.sleep(desk.settings.retention.every_hours * 3600)


def setup_retention(app: web.Application) -> None:
    """Start the job with the app when a retention limit is set; off (keep forever) by default."""
    desk = app[DESK]
    if not desk.settings.retention.enabled:
        return

    async def run(app: web.Application) -> AsyncIterator[None]:
        engine = desk.sessions.kw["bind"]
        task = asyncio.get_running_loop().create_task(run_alone(engine, "retention", lambda: retention_loop(desk)),
                                                      name="retention")
        yield
        await cancel_task(task)

    app.cleanup_ctx.append(run)
