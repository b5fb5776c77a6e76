"""Console render: an operator's ticket list and a 1,000-message ticket over HTTP, with 100,000 tickets stored.

    python -m bench.console [--quick] [--database-url URL]

The desk's schema and operator are made with the `helpline` CLI; the tickets (quick: 10,000) go
in with batched Core inserts through the storage models: a year of a desk taking 100,000
tickets, across three queues, five per client; 60 % of the last two days' tickets and 0.5 % of
older ones still active (about 800 at full size), and one ticket holding 1,000 messages. The
ticket page shows its newest 200 messages (the rest behind a link), as operators get it. `helpline run` then serves a
logged-in operator's requests one after another; p50 and p99 of each page are compared with the
bare aiohttp server (bench/anchor.py) returning a static page of the same size to the same client.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import insert, select, text, update

from bench.figures import (
    Anchor, DeskProcesses, cpu_seconds, figure, insert_ids, log, percentile, pg_recreate, print_figures, private_pg_url,
    wait_quiet,
)

TARGET_MS = 50.0
QUEUES = ("general", "billing", "delivery")
# The stored tickets count as routed and surveyed already: no worker should be busy with them while pages are timed
# (nor loading the router's model, which no page uses).
CONFIG = "[bot]\nenabled = false\n\n[feedback.survey]\nenabled = false\n\n[router]\nclassify = false\n" + "".join(f'\n[[queues]]\nname = "{q}"\n' for q in QUEUES[1:])
BATCH = 1000
PER_CLIENT = 5
ACTIVE = ("new", "open", "waiting")
SPACING_MINUTES = 5.25  # 100,000 tickets a year


async def fill(url: str, tickets: int, long_messages: int = 1000) -> int:
    """Store `tickets` tickets (one message each) and one more with `long_messages`; returns that one's number."""
    from bot.storage.engine import create_engine
    from bot.storage.models import ChannelIdentity, Client, Counter, Message, Operator, Queue, Ticket, utcnow

    rng = random.Random(9)
    engine = create_engine(url)
    now = utcnow()
    try:
        async with engine.begin() as conn:
            queues = dict((await conn.execute(select(Queue.name, Queue.id))).all())
            missing = [q for q in QUEUES if q not in queues]  # the desk creates its configured queues at start
            if missing:
                await conn.execute(insert(Queue.__table__), [{"name": q, "title": q.title()} for q in missing])
                queues = dict((await conn.execute(select(Queue.name, Queue.id))).all())
            operator = (await conn.execute(select(Operator.id))).scalar_one()
            first = (await conn.execute(update(Counter).where(Counter.name == "ticket_number")
                                        .values(value=Counter.value + tickets + 1).returning(Counter.value))).scalar_one()
            first -= tickets
        started = time.perf_counter()
        for start in range(0, tickets + 1, BATCH):
            count = min(BATCH, tickets + 1 - start)
            async with engine.begin() as conn:
                clients = await insert_ids(conn, Client.__table__, [
                    {"display_name": f"Client {start + i}", "email": "", "phone": "", "language": "en", "created_at": now}
                    for i in range(0, count, PER_CLIENT)])
                await conn.execute(insert(ChannelIdentity.__table__), [
                    {"client_id": c, "channel": "webchat", "external_id": secrets.token_hex(16), "display_name": "",
                     "claimed_email": "", "verified": False, "unreachable": False, "unreachable_reason": "",
                     "created_at": now} for c in clients])
                rows = []
                for i in range(count):
                    age = timedelta(minutes=(tickets - start - i) * SPACING_MINUTES)
                    created = now - age
                    active = rng.random() < (0.6 if age < timedelta(days=2) else 0.005)
                    status = rng.choice(ACTIVE) if active else "resolved"
                    rows.append({
                        "number": first + start + i, "public_id": secrets.token_urlsafe(18),
                        "client_id": clients[i // PER_CLIENT], "channel": "webchat", "chat_id": secrets.token_hex(8),
                        "status": status, "queue_id": queues[rng.choice(QUEUES)],
                        "assignee_id": operator if rng.random() < 0.3 else None, "priority": "normal", "language": "en",
                        "subject": f"Where is my order NW-{start + i:06d}?", "source": "", "created_at": created,
                        "updated_at": created, "last_message_at": created, "handed_off_at": created,
                        "routed_at": created, "queued_at": created,
                        "resolved_at": created + timedelta(hours=1) if status == "resolved" else None})
                ids = await insert_ids(conn, Ticket.__table__, rows)
                await conn.execute(insert(Message.__table__), [
                    {"ticket_id": t, "channel": "webchat", "direction": "in", "author_kind": "client", "operator_id": None,
                     "text": r["subject"] + " It was due last week.", "delivery_status": "received",
                     "created_at": r["created_at"], "external_id": f"bench-{t}"} for t, r in zip(ids, rows)])
        long_number = first + tickets  # the last ticket of the last batch: active, in general, the operator's
        async with engine.begin() as conn:
            long_id, created = (await conn.execute(select(Ticket.id, Ticket.created_at).where(Ticket.number == long_number))).one()
            await conn.execute(update(Ticket).where(Ticket.id == long_id).values(
                status="open", queue_id=queues["general"], assignee_id=operator))
            await conn.execute(insert(Message.__table__), [
                {"ticket_id": long_id, "channel": "webchat", "direction": "out" if i % 2 else "in",
                 "author_kind": "operator" if i % 2 else "client", "operator_id": operator if i % 2 else None,
                 "text": f"Message {i} about the order: " + "lorem ipsum dolor sit amet " * 4,
                 "delivery_status": "delivered" if i % 2 else "received", "created_at": created + timedelta(seconds=i),
                 "external_id": None if i % 2 else f"bench-long-{i}"} for i in range(1, long_messages)])
        if engine.dialect.name == "postgresql":
            # Statistics, as autovacuum gathers them within a minute of a bulk load: timed before they exist,
            # the planner guessed (a sequential scan of every message for the ticket's history, 30-50 ms a page).
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        log(f"  stored {tickets + 1:,} tickets in {time.perf_counter() - started:.1f} s")
        return long_number
    finally:
        await engine.dispose()


async def timings(http: aiohttp.ClientSession, url: str, samples: int, pid: int) -> tuple[float, float, int, float]:
    """p50 and p99 in ms of `samples` sequential GETs (after 5 unmeasured), the page's size in bytes, and the
    server's CPU ms per request (steadier than wall time on a shared machine)."""
    times, size = [], 0
    for i in range(samples + 5):
        if i == 5:
            cpu = cpu_seconds(pid)
        started = time.perf_counter()
        async with http.get(url, allow_redirects=False) as r:
            body = await r.read()
            if r.status != 200:
                raise RuntimeError(f"GET {url} answered {r.status}")
        if i >= 5:
            times.append((time.perf_counter() - started) * 1000)
        size = len(body)
    return percentile(times, 50), percentile(times, 99), size, (cpu_seconds(pid) - cpu) * 1000 / samples


async def measure_desk(workdir: Path, url: str, tickets: int, samples: int) -> dict:
    desk = DeskProcesses(workdir, url, CONFIG)
    await asyncio.to_thread(desk.prepare)
    long_number = await fill(url or f"sqlite+aiosqlite:///{workdir}/data/helpline.db", tickets)
    try:
        await desk.start(1)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await desk.log_in(http)
            # Start-up jobs over the new rows (client segments, SLA clocks) run once; time the pages after them.
            waited = await wait_quiet(desk.procs[0].pid)
            log(f"  the desk went quiet after {waited:.1f} s of start-up jobs")
            pid = desk.procs[0].pid
            return {"list": await timings(http, desk.base() + "/console", samples, pid),
                    "ticket": await timings(http, desk.base() + f"/console/tickets/{long_number}", samples, pid)}
    finally:
        desk.stop()


async def measure_anchor(sizes: list[int], samples: int) -> dict[int, tuple[float, float, int]]:
    async with Anchor() as anchor, aiohttp.ClientSession() as http:
        return {size: await timings(http, f"{anchor.base}/page?bytes={size}", samples, anchor.proc.pid) for size in sizes}


def _figures(label: str, scale: str, desk: dict, anchor: dict) -> list[dict]:
    figures = []
    for key, what in (("list", "ticket list"), ("ticket", "ticket with 1,000 messages")):
        p50, p99, size, cpu = desk[key]
        a50, a99, _, _ = anchor[size]
        name = f"aiohttp static page of the same size ({size // 1024} KiB), same client"
        figures.append(figure(f"console {what} p50 ({label}, {scale})", p50, "ms", name + ", p50 ms", a50,
                              f"value < {TARGET_MS:.0f} ms", p50 < TARGET_MS, 2))
        figures.append(figure(f"console {what} p99 ({label}, {scale})", p99, "ms", name + ", p99 ms", a99,
                              f"value < {TARGET_MS:.0f} ms", p99 < TARGET_MS, 2))
        # Judged alone: the anchor's CPU per request is below /proc's 10 ms tick over a few hundred requests.
        figures.append({"name": f"console {what}: server CPU per request ({label}, {scale})", "value": round(cpu, 2),
                        "unit": "ms", "anchor": None, "ratio": None,
                        "target": f"value < {TARGET_MS:.0f} ms (the page's cost without the machine's other load)",
                        "met": cpu < TARGET_MS})
    return figures


async def _measure(quick: bool, database_url: str | None) -> list[dict]:
    tickets, samples = (10_000, 40) if quick else (100_000, 200)
    scale = f"{tickets:,} tickets"
    runs = [("SQLite", "")] + ([("PostgreSQL", private_pg_url(database_url, "bench_console"))] if database_url else [])
    figures = []
    for label, url in runs:
        if url:
            await pg_recreate(url)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                log(f"console: {scale} on {label}, {samples} requests per page...")
                desk = await measure_desk(Path(tmp), url, tickets, samples)
        finally:
            if url:
                await pg_recreate(url, drop_only=True)
        anchor = await measure_anchor(sorted({desk["list"][2], desk["ticket"][2]}), samples)
        for key in ("list", "ticket"):
            p50, p99, size, cpu = desk[key]
            log(f"  {key}: {size // 1024} KiB, p50 {p50:.1f} ms, p99 {p99:.1f} ms, {cpu:.1f} ms CPU; static page "
                f"p50 {anchor[size][0]:.2f} ms, p99 {anchor[size][1]:.2f} ms, {anchor[size][3]:.2f} ms CPU")
        figures += _figures(label, scale, desk, anchor)
    return figures


def measure(quick: bool, database_url: str | None) -> list[dict]:
    """The console figures (bench/results.json shape), each beside a static page of the same size."""
    return asyncio.run(_measure(quick, database_url))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 tickets instead of 100,000")
    parser.add_argument("--database-url", default="", help="also measure on this PostgreSQL server "
                        "(a database <name>_bench_console is dropped and created there)")
    args = parser.parse_args()
    try:
        print_figures(measure(args.quick, args.database_url or None))
    except RuntimeError as e:
        print(f"bench.console: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
