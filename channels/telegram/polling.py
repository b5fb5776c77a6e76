"""Long polling that confirms an update only after it is committed.

Bot API: getUpdates with ``offset`` confirms every update whose id is below it, and Telegram
forgets confirmed updates. aiogram's own polling confirms a batch as soon as it has read it,
before the handlers ran, so a crash loses whatever they had not stored. Here the offset sent is
always the lowest update id not yet committed (or one past the highest seen, when all are):

- each update runs as its own task through the Pipeline (chats in parallel, one chat in order);
- while any is running the loop polls again every ``busy_interval`` without confirming it,
  skipping the updates already in hand, so other chats and late album items keep flowing;
- an update that fails stays unconfirmed and is taken again from the next answer, after a
  back-off; one that was committed but not yet confirmed when the process died comes again after
  the restart, and the inbox's de-duplication on its key stores it once.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from channels.telegram.api import BotAPI, Conflict, RateLimited, TelegramError, TokenRejected
from channels.telegram.limits import Backoff
from channels.telegram.normalize import ALLOWED_UPDATES

logger = logging.getLogger(__name__)
STOP_GRACE = 5.0  # seconds stop() lets updates in hand finish committing


class Poller:
    """The getUpdates loop of one bot."""

    def __init__(self, channel: str, api: BotAPI, handle: Callable[[dict], Awaitable[None]], *, timeout: int,
                 busy_interval: float, backoff: Backoff, retry: Backoff):
        self.channel = channel
        self.api = api
        self.handle = handle
        self.timeout = timeout
        self.busy_interval = busy_interval
        self.backoff = backoff  # between failed getUpdates calls
        self.retry = retry  # before an update that failed is taken again
        self.offset: int | None = None  # None: Telegram starts at the earliest unconfirmed update
        self.max_seen: int | None = None
        self.running: dict[int, asyncio.Task] = {}
        self.failed: dict[int, float] = {}  # update id -> loop time from which it is taken again
        self.committed: set[int] = set()  # done but not yet below the offset
        self.stopped_by_error = ""
        self._conflict_reported = False

    async def run(self) -> None:
        """Poll until cancelled (or until Telegram refuses the token)."""
        try:
            while True:
                try:
                    updates = await self.api.get_updates(self.offset, 0 if self._busy() else self.timeout, ALLOWED_UPDATES)
                except TokenRejected as exc:
                    self.stopped_by_error = f"Telegram refused the token ({exc})"
                    logger.error("%s: Telegram refused the bot's token (%s); polling stopped. Fix channels.telegram's "
                                 "token and restart.", self.channel, exc)
                    return
                except TelegramError as exc:
                    await self._wait_after(exc)
                    continue
                self.backoff.reset()
                self._conflict_reported = False
                self._take(updates)
                await self._progress()
        finally:
            await self._finish()

    def _busy(self) -> bool:
        return bool(self.running or self.failed)

    async def _wait_after(self, exc: TelegramError) -> None:
        if isinstance(exc, Conflict):
            # Telegram lets one getUpdates at a time: a webhook is set, or another process polls.
            level = logging.DEBUG if self._conflict_reported else logging.WARNING
            logger.log(level, "%s: Telegram says %s. A webhook is set (`helpline telegram delete-webhook`), or a "
                              "process of another desk polls this bot.",
                       self.channel, exc)
            self._conflict_reported = True
            delay = self.backoff.next()
        elif isinstance(exc, RateLimited):
            delay = exc.retry_after
        else:
            delay = self.backoff.next()
            logger.warning("%s: getUpdates failed (%s); trying again in %.1f s", self.channel, exc, delay)
        await self._settle(delay)

    async def _settle(self, delay: float) -> None:
        """Sleep, but let updates in hand finish meanwhile (their commits move the offset on)."""
        if self.running:
            await asyncio.wait(list(self.running.values()), timeout=delay)
        else:
            await asyncio.sleep(delay)
        self._advance()

    def _take(self, updates: list[dict]) -> None:
        for update in updates:
            update_id = update.get("update_id") if isinstance(update, dict) else None
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                continue  # Telegram numbers every update; there is nothing to confirm without one
            if (self.offset is not None and update_id < self.offset) or update_id in self.committed \
                    or update_id in self.running or self.failed.get(update_id, 0.0) > asyncio.get_running_loop().time():
                continue
            self.failed.pop(update_id, None)
            self.max_seen = update_id if self.max_seen is None else max(self.max_seen, update_id)
            task = asyncio.get_running_loop().create_task(self._one(update_id, update), name=f"{self.channel}:{update_id}")
            self.running[update_id] = task

    async def _one(self, update_id: int, update: dict) -> None:
        try:
            await self.handle(update)
        except asyncio.CancelledError:
            self.failed[update_id] = 0.0
            raise
        except Exception:
            delay = self.retry.next()
            logger.exception("%s: update %s could not be stored; it stays unconfirmed and is tried again in %.1f s",
                             self.channel, update_id, delay)
            self.failed[update_id] = asyncio.get_running_loop().time() + delay
        else:
            self.committed.add(update_id)
            if not self.failed:
                self.retry.reset()
        finally:
            self.running.pop(update_id, None)

    async def _progress(self) -> None:
        """Let the updates in hand run: all of them, or ``busy_interval``, whichever is first.

        With only failed updates left, wait until the first of them is due again."""
        if self.running:
            await asyncio.wait(list(self.running.values()), timeout=self.busy_interval)
        elif self.failed:
            await asyncio.sleep(max(0.0, min(self.failed.values()) - asyncio.get_running_loop().time()))
        self._advance()

    def _advance(self) -> None:
        """The next offset: the lowest update not committed, else one past the highest seen."""
        open_ids = set(self.running) | set(self.failed)
        if open_ids:
            target = min(open_ids)
        elif self.max_seen is not None:
            target = self.max_seen + 1
        else:
            return
        if self.offset is None or target > self.offset:
            self.offset = target
        self.committed = {u for u in self.committed if u >= self.offset}

    async def _finish(self) -> None:
        """On stop: let commits under way end, then confirm what is committed (best effort)."""
        if self.running:
            await asyncio.wait(list(self.running.values()), timeout=STOP_GRACE)
            for task in list(self.running.values()):
                task.cancel()
            await asyncio.gather(*self.running.values(), return_exceptions=True)
        self._advance()
        if self.offset is not None and not self.stopped_by_error:
            try:
                await asyncio.wait_for(self.api.get_updates(self.offset, 0, ALLOWED_UPDATES, limit=1), 3)
            except (TelegramError, asyncio.TimeoutError):
                pass  # the next start confirms them; re-delivered ones are stored once
