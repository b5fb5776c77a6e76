"""Small helpers shared by the desk's background workers (outbox, routing, self-service, feedback)."""
from __future__ import annotations

import asyncio
import contextlib


async def cancel_task(task: asyncio.Task | None) -> None:
    """Cancel a worker's task and wait until it has ended; safe with None or a finished task."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def wait_for_wake(wake: asyncio.Event, seconds: float) -> None:
    """Sleep until something wakes the worker or the time is up, whichever comes first."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(wake.wait(), seconds)
