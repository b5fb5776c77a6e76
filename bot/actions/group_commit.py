"""Group commit: concurrent writes share one transaction, and each caller is answered after it commits.

A commit is the expensive part of storing a message (a WAL fsync on SQLite, a round trip and an
fsync on PostgreSQL). When many callers write at once (a crowd of web-chat visitors), one
transaction for all of them costs about as much as one for each. Rules kept here:
- a caller's future resolves only after the transaction holding its write has committed, so an
  adapter never acknowledges what is not durable;
- if anything in a batch fails (one bad item, a failed commit), the batch is rolled back and each
  item is written again in a transaction of its own, so one failure fails only its own caller;
- items with the same key never share a batch: the later one waits for the next, so it sees the
  earlier one committed (de-duplication stays the database's job).
There is no timer: a batch is whatever arrived while the previous one was being written (and, on
SQLite, while it waited for the write lock), so a lone caller is not delayed. The writer gets the
whole batch at once, so it may write it with a few set-based statements instead of a few per item
(bot/actions/inbox_batch.py); it returns one result per item, in order.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from bot.actions.context import Desk, Unit, unit_of_work

logger = logging.getLogger(__name__)
Item = TypeVar("Item")

MAX_BATCH = 64


class GroupCommit(Generic[Item]):
    """Writes batches with `write(desk, unit, items) -> results` in shared transactions; `alone(item)` is the fallback."""

    def __init__(self, desk: Desk, write: Callable[[Desk, Unit, list[Item]], Awaitable[list[Any]]],
                 alone: Callable[[Item], Awaitable[Any]], key: Callable[[Item], Hashable], max_batch: int = MAX_BATCH):
        self.desk, self.write, self.alone, self.key, self.max_batch = desk, write, alone, key, max_batch
        self.loop = asyncio.get_running_loop()
        self._pending: list[tuple[Item, asyncio.Future]] = []
        self._worker: asyncio.Task | None = None

    async def submit(self, item: Item) -> Any:
        """Write the item with whatever else is waiting; return its result once committed."""
        future = self.loop.create_future()
        self._pending.append((item, future))
        if self._worker is None or self._worker.done():
            self._worker = self.loop.create_task(self._drain())
        # The write goes on if the caller gives up waiting: it may already be in a transaction.
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._pending:
            batch: list[tuple[Item, asyncio.Future]] = []
            try:
                await self._write_batch(batch)
            except Exception:  # never leave a caller waiting, whatever went wrong
                logger.exception("group commit of %d items failed unexpectedly", len(batch))
                for _item, future in batch:
                    if not future.done():
                        future.set_exception(RuntimeError("the write was not committed"))

    def _take(self) -> list[tuple[Item, asyncio.Future]]:
        """The next batch from what is waiting: at most max_batch items, no two with the same key."""
        batch, keys, later = [], set(), []
        for item, future in self._pending:
            key = self.key(item)
            if key in keys or len(batch) >= self.max_batch:
                later.append((item, future))
            else:
                keys.add(key)
                batch.append((item, future))
        self._pending = later
        return batch

    async def _write_batch(self, batch: list[tuple[Item, asyncio.Future]]) -> None:
        """Fill `batch` and write it; the batch is taken once the transaction has begun.

        On SQLite that is once this process's turn at the write lock has come (bot/actions/context.py),
        so whatever arrived while waiting for it joins this batch instead of waiting for the next.
        """
        try:
            async with unit_of_work(self.desk) as unit:
                batch += self._take()
                results = await self.write(self.desk, unit, [item for item, _future in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
        except Exception as exc:
            # Rolled back: nothing of this batch is stored. Each item again on its own, so only
            # the item at fault fails (or each fails for itself, if the database is down).
            if not batch:  # the transaction did not even begin
                batch += self._take()
            logger.info("a batch of %d writes failed (%s); writing them one by one", len(batch), type(exc).__name__)
            for item, future in batch:
                await self._write_alone(item, future)
            return
        for (_item, future), result in zip(batch, results):
            if not future.done():
                future.set_result(result)

    async def _write_alone(self, item: Item, future: asyncio.Future) -> None:
        try:
            result = await self.alone(item)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)
