"""`make bench`: measure the desk beside its anchors and write bench/results.json.

Each figure is a ratio to an anchor measured in the same run on the same machine, so what we
track stays stable on a noisy machine. Figures so far: the inbox (new tickets from new clients,
and follow-up messages) against bare single-row transactions through the same driver.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import text

from bot.actions.context import Desk
from bot.actions.inbox import receive_message
from bot.actions.setup import sync_queues
from bot.config import parse_settings
from bot.domain import InboundMessage
from bot.events import EventBus
from bot.storage.engine import create_engine, session_factory
from bot.storage.files import AttachmentStore
from bot.storage.migrate import upgrade

RESULTS = Path(__file__).with_name("results.json")


async def _fresh_desk(url: str, data_dir: Path) -> Desk:
    if url.startswith("postgresql"):
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    settings = parse_settings({"desk": {"data_dir": str(data_dir), "database_url": url},
                               "web": {"secret_key": "bench-secret-key-0123456789-abcdefghijkl"}}, "bench")
    engine = create_engine(url)
    await upgrade(engine)
    desk = Desk(session_factory(engine), EventBus(), settings, AttachmentStore(data_dir / "att", 10**7, ()))
    await sync_queues(desk)
    return desk


async def _anchor(desk: Desk, n: int) -> float:
    """Bare single-row transactions through the same engine: the floor any inbox pays."""
    async with desk.sessions() as s, s.begin():
        await s.execute(text("CREATE TABLE IF NOT EXISTS bench_rows (id INTEGER PRIMARY KEY, body TEXT)"))
    start = time.perf_counter()
    for i in range(n):
        async with desk.sessions() as s, s.begin():
            await s.execute(text("INSERT INTO bench_rows (id, body) VALUES (:i, :b)"), {"i": i, "b": "x" * 40})
    return n / (time.perf_counter() - start)


async def _inbox(desk: Desk, n: int, new_clients: bool) -> float:
    now = datetime.now(timezone.utc)
    start = time.perf_counter()
    for i in range(n):
        user = f"bench-{i}" if new_clients else "bench-regular"
        await receive_message(desk, InboundMessage(channel="webchat", user_id=user, chat_id=user,
                                                   message_id=f"{user}:{i}", text=f"Where is my order NW-{i:06d}?", sent_at=now))
    return n / (time.perf_counter() - start)


def _figure(name, value, unit, anchor_name, anchor_value, target):
    ratio = value / anchor_value if anchor_value else None
    return {"name": name, "value": round(value, 1), "unit": unit,
            "anchor": {"name": anchor_name, "value": round(anchor_value, 1)}, "ratio": round(ratio, 3),
            "target": f"ratio >= {target}", "met": ratio is not None and ratio >= target}


async def measure(url: str, label: str, n: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        desk = await _fresh_desk(url, Path(tmp))
        try:
            anchor = await _anchor(desk, n)
            new = await _inbox(desk, n, new_clients=True)
            follow = await _inbox(desk, n, new_clients=False)
        finally:
            await desk.sessions.kw["bind"].dispose()
    anchor_name = f"single-row transactions/s ({label}, same driver)"
    return [_figure(f"inbox new tickets/s ({label})", new, "messages/s", anchor_name, anchor, 0.1),
            _figure(f"inbox follow-up messages/s ({label})", follow, "messages/s", anchor_name, anchor, 0.15)]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (under a minute)")
    parser.add_argument("--database-url", default=os.environ.get("HELPLINE_BENCH_DATABASE_URL", ""),
                        help="also measure on this PostgreSQL (its public schema is emptied)")
    args = parser.parse_args()
    n = 200 if args.quick else 2000
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        print(f"measuring on SQLite ({n} messages per figure)...", file=sys.stderr)
        figures += asyncio.run(measure(f"sqlite+aiosqlite:///{tmp}/bench.db", "SQLite", n))
    if args.database_url:
        print("measuring on PostgreSQL...", file=sys.stderr)
        figures += asyncio.run(measure(args.database_url, "PostgreSQL", n))
    RESULTS.write_text(json.dumps({"figures": figures}, indent=2) + "\n")
    width = max(len(f["name"]) for f in figures)
    for f in figures:
        print(f"{f['name']:<{width}}  {f['value']:>9} {f['unit']:<11} anchor {f['anchor']['value']:>9}  "
              f"ratio {f['ratio']:<6} {'met' if f['met'] else 'NOT met'} ({f['target']})")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
