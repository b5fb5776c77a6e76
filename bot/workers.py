"""The one pass loop shared by the desk's background workers (outbox, routing, self-service, feedback).

A worker is a durable pass (`run_once`: do whatever the rows say is due) run again and again: at
once while a pass finds work, otherwise after an event wakes it or its idle wait is up. A failing
pass is logged and retried after the idle wait, so one bad moment never stops the worker.
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.storage.singleton import run_alone

logger = logging.getLogger(__name__)


async def cancel_task(task: asyncio.Task | None) -> None:
    """Cancel a worker's task and wait until it has ended; safe with None or a finished task."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def wait_for_wake(wake: asyncio.Event, seconds: float) -> None:
    """Sleep until something wakes the worker or the time is up, whichever comes first.

    asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancel that arrives as the wait ends,
    and the worker then never stops."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()


class PassLoop:
    """Runs ``run_pass`` until stopped; ``pause(result)`` says how long to wait before the next pass.

    ``pause`` gets the pass's result (None when the pass failed) and returns seconds, or an
    awaitable of seconds; 0 runs the next pass at once. ``wake()`` cuts a wait short. With
    ``singleton`` the loop runs in one desk process at a time (an advisory lock on PostgreSQL).
    """

    def __init__(self, name: str, run_pass: Callable[[], Awaitable[Any]],
                 pause: Callable[[Any], float | Awaitable[float]], *, singleton: str = ""):
        self.name = name
        self.run_pass = run_pass
        self.pause = pause
        self.singleton = singleton
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self, engine=None) -> None:
        """Start the loop in this process (``engine``: where the singleton lock lives, when there is one)."""
        body = self._run if not self.singleton else (lambda: run_alone(engine, self.singleton, self._run))
        self._task = asyncio.get_running_loop().create_task(body(), name=self.name)

    async def stop(self) -> None:
        """Cancel the loop and wait for it; safe twice and before start."""
        task, self._task = self._task, None
        await cancel_task(task)

    async def _run(self) -> None:
        while True:
            # Cleared before the pass: a wake during the pass means its work may have been missed.
            self._wake.clear()
            try:
                result = await self.run_pass()
            except Exception:
                logger.exception("%s pass failed; retrying shortly", self.name)
                result = None
            seconds = self.pause(result)
            if inspect.isawaitable(seconds):
                seconds = await seconds
            if seconds > 0:
                await wait_for_wake(self._wake, seconds)
            else:
                await asyncio.sleep(0)  # a pass that never awaited must still let the rest of the process run
