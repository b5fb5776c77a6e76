"""Inbox throughput: new tickets from new visitors, one at a time and many at once, and statements per message.

`python -m bench.inbox [--database-url URL] [--messages N] [--concurrency C]` prints:
- sequential: one `receive_message` after another (each its own transaction);
- concurrent: C visitors writing at once, as a crowd on the web chat does (group commit);
- SQL statements and commits per message, counted on the engine, in both modes.
Each message is a first message from a new visitor: a new client, identity, ticket and message.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import event

from bench.figures import pg_recreate, private_pg_url
from bot.actions.inbox import receive_message
from bot.domain import InboundMessage


def _message(run: str, i: int) -> InboundMessage:
    user = f"{run}-{i}"
    return InboundMessage(channel="webchat", user_id=user, chat_id=user, message_id=f"{user}:1",
                          text=f"Where is my order NW-{i:06d}?", sent_at=datetime.now(timezone.utc))


class _Counter:
    """Statements and commits on an engine while measuring."""

    def __init__(self, engine):
        self.engine, self.statements, self.commits = engine.sync_engine, 0, 0

    def _statement(self, *_args):
        self.statements += 1

    def _commit(self, *_args):
        self.commits += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *_exc):
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)


async def measure(desk, n: int, concurrency: int) -> dict[str, tuple[float, float, float]]:
    """{mode: (messages/s, statements per message, commits per message)}."""
    engine = desk.sessions.kw["bind"]
    results = {}
    with _Counter(engine) as counted:
        start = time.perf_counter()
        for i in range(n):
            await receive_message(desk, _message("seq", i))
        results["sequential"] = (n / (time.perf_counter() - start), counted.statements / n, counted.commits / n)
    with _Counter(engine) as counted:
        start = time.perf_counter()
        for first in range(0, n, concurrency):
            await asyncio.gather(*(receive_message(desk, _message("crowd", i))
                                   for i in range(first, min(n, first + concurrency))))
        results[f"concurrent x{concurrency}"] = (n / (time.perf_counter() - start), counted.statements / n,
                                                counted.commits / n)
    return results


async def _main(url: str, n: int, concurrency: int) -> None:
    from bench.__main__ import _fresh_desk

    private = private_pg_url(url, "bench_inbox") if url else ""
    if private:
        await pg_recreate(private)
    with tempfile.TemporaryDirectory() as tmp:
        desk = await _fresh_desk(private or f"sqlite+aiosqlite:///{tmp}/inbox.db", Path(tmp))
        try:
            print(f"{n} new visitors' first messages, sequential then {concurrency} at once...", file=sys.stderr)
            results = await measure(desk, n, concurrency)
        finally:
            await desk.sessions.kw["bind"].dispose()
            if private:
                await pg_recreate(private, drop_only=True)
    for mode, (rate, statements, commits) in results.items():
        print(f"{mode:<16} {rate:8.0f} messages/s   {statements:5.1f} statements/message   {commits:5.2f} commits/message")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.inbox", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="PostgreSQL server to measure on (in a database of its own beside the named one)")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(_main(args.database_url, args.messages, args.concurrency))
