"""Web chat end to end: visitors on the widget websocket, an operator on the console socket.

    python -m bench.webchat [--quick] [--database-url URL]

`helpline run` (SQLite; and PostgreSQL when a URL is given, with 1 and with 2 processes) gets
500 concurrent visitors. Each opens its ticket with a first message (untimed: new tickets are
another figure); once every ticket was pushed to the operator as assigned, all send follow-ups one
after another for a fixed time. A message counts once its
`ack` came (the desk committed it) and the operator's console socket was pushed the ticket with
that message (routing assigns every ticket to the operator). Latency runs from the visitor's send
to that push. The anchor is a bare aiohttp websocket echo (bench/anchor.py) driven by the same
client with the same concurrency; its "push" is the echoed frame.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import os
import time
from collections import defaultdict
from pathlib import Path

import aiohttp

from bench.figures import (
    Anchor, DeskProcesses, figure, log, percentile, pg_recreate, print_figures, private_pg_url, raise_fd_limit,
)

VISITORS = 500
WAIT = 60.0  # seconds any single frame may take before the run is declared stuck
CONFIG = """
[channels.webchat]
messages_per_minute = 1000000
connections_per_address = 100000

[bot]
enabled = false

[router]
classify = false

[router.assignment]
default_capacity = { "*" = 1000 }
"""


class OperatorPushes:
    """Reads the operator's console socket; per ticket, when each push with a newer last message arrived."""

    def __init__(self) -> None:
        self.times: dict[int, list[float]] = defaultdict(list)
        self.last: dict[int, str] = {}
        self.assigned: set[int] = set()
        self.assigned_more = asyncio.Event()
        self.events: dict[int, asyncio.Event] = defaultdict(asyncio.Event)

    async def read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            now = time.perf_counter()
            frame = msg.json()
            if frame.get("type") != "ticket":
                continue
            ticket = frame["ticket"]
            number = ticket["number"]
            if ticket.get("assignee_id") and number not in self.assigned:
                self.assigned.add(number)
                self.assigned_more.set()
            if ticket["last_iso"] != self.last.get(number):
                self.last[number] = ticket["last_iso"]
                self.times[number].append(now)
                self.events[number].set()

    async def all_assigned(self, count: int) -> None:
        """Until `count` tickets were pushed as assigned (placing new tickets is the new-tickets figure)."""
        while len(self.assigned) < count:
            self.assigned_more.clear()
            await asyncio.wait_for(self.assigned_more.wait(), WAIT)

    async def wait(self, number: int, count: int) -> float:
        """When the push of the ticket's `count`-th message arrived (one visitor per ticket, one at a time)."""
        while len(self.times[number]) < count:
            event = self.events[number]
            event.clear()
            await asyncio.wait_for(event.wait(), WAIT)
        return self.times[number][count - 1]


async def _frame(ws: aiohttp.ClientWebSocketResponse, want) -> dict:
    while True:
        msg = await asyncio.wait_for(ws.receive(), WAIT)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"the socket closed while waiting ({msg.type.name} {msg.data!r})")
        frame = msg.json()
        if frame.get("type") == "error" and not (frame.get("code") == "unavailable" and frame.get("id")):
            raise RuntimeError(f"the desk answered an error frame: {frame}")
        if want(frame):
            return frame


async def _send(ws, n: int, k: int, pushes: OperatorPushes | None, resent: list[str], acks: list[float]) -> float:
    """Send the visitor's k-th message and wait until it is done; returns the seconds from send to done
    (and appends the seconds until its ack to `acks`)."""
    cid = f"v{n}-{k}"
    frame = {"type": "message", "id": cid, "text": f"Where is my order NW-{n:06d}? ({k})", "name": f"V{n}"}
    sent = time.perf_counter()
    await ws.send_json(frame)
    if pushes is None:  # the echo: done when the frame came back
        await _frame(ws, lambda f: f["type"] == "message" and f.get("id") == cid)
        return time.perf_counter() - sent
    while True:  # "unavailable" (the database was busy): resend with the same id, as the widget does
        got = await _frame(ws, lambda f: f.get("id") == cid)
        if got["type"] == "ack":
            break
        resent.append(got["code"])
        await asyncio.sleep(min(float(got.get("retry_after") or 0.5), 2.0))
        await ws.send_json(frame)
    acks.append(time.perf_counter() - sent)
    return await pushes.wait(got["ticket"], k) - sent


async def _visitor(http, url: str, n: int, pushes: OperatorPushes | None, phases: "Phases") -> None:
    """One visitor: hello and a first message (its ticket, untimed), then messages one after another until the deadline."""
    try:
        async with http.ws_connect(url, heartbeat=None) as ws:
            await ws.send_json({"type": "hello", "token": None, "last_seen": 0, "locale": "en"})
            await _frame(ws, lambda f: f["type"] in ("synced", "hello"))  # the echo returns the hello itself
            await _send(ws, n, 1, pushes, phases.resent, [])
            phases.arrived()
            await phases.go.wait()
            k = 1
            while time.perf_counter() < phases.stop_at:
                k += 1
                phases.latencies.append(await _send(ws, n, k, pushes, phases.resent, phases.acks))
    except Exception as e:  # noqa: BLE001 - one visitor's failure is counted and reported, not fatal
        phases.errors.append(f"{type(e).__name__}: {e}")
        phases.arrived()


class Phases:
    """Everyone opens a ticket first; the timed phase starts when all have, and ends at a deadline."""

    def __init__(self, visitors: int, seconds: float) -> None:
        self.visitors, self.seconds = visitors, seconds
        self.count = 0
        self.all_arrived = asyncio.Event()
        self.go = asyncio.Event()
        self.stop_at = 0.0
        self.latencies: list[float] = []
        self.acks: list[float] = []
        self.errors: list[str] = []
        self.resent: list[str] = []

    def arrived(self) -> None:
        self.count += 1
        if self.count == self.visitors:
            self.all_arrived.set()

    def start(self) -> float:
        now = time.perf_counter()
        self.stop_at = now + self.seconds
        self.go.set()
        return now


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes used so far (Linux /proc), 0 where unreadable."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))
    return total / os.sysconf("SC_CLK_TCK")


async def drive(urls: list[str], visitors: int, seconds: float, pushes: OperatorPushes | None,
                pids: list[int] = ()) -> dict:
    """Visitors spread over `urls`; returns messages/s of the timed phase, p50/p99 in ms, and counts
    (with `pids`, the desk's CPU ms per message in the timed phase)."""
    phases = Phases(visitors, seconds)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        tasks = [asyncio.create_task(_visitor(http, urls[i % len(urls)], i, pushes, phases)) for i in range(visitors)]
        await asyncio.wait_for(phases.all_arrived.wait(), 300)
        if phases.errors:
            raise RuntimeError(f"{len(phases.errors)} visitors failed before the timed phase, e.g. {phases.errors[:3]}")
        placed = time.perf_counter()
        if pushes is not None:
            await pushes.all_assigned(visitors)
        placed = time.perf_counter() - placed
        cpu = cpu_seconds(pids)
        start = phases.start()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds(pids) - cpu
    if phases.errors:
        raise RuntimeError(f"{len(phases.errors)} visitors failed, e.g. {phases.errors[:3]}")
    lat = phases.latencies
    return {"rate": len(lat) / elapsed, "p50": percentile(lat, 50) * 1000, "p99": percentile(lat, 99) * 1000,
            "done": len(lat), "resent": len(phases.resent), "seconds": elapsed,
            "ack_p50": percentile(phases.acks, 50) * 1000 if phases.acks else None, "placing": placed,
            "cpu_ms": cpu * 1000 / len(lat) if pids and lat else None}


async def run_echo(visitors: int, seconds: float) -> dict:
    async with Anchor() as anchor:
        return await drive([anchor.base.replace("http", "ws") + "/ws"], visitors, seconds, None)


async def run_desk(workdir: Path, database_url: str, processes: int, visitors: int, seconds: float) -> dict:
    desk = DeskProcesses(workdir, database_url, CONFIG)
    await asyncio.to_thread(desk.prepare)
    try:
        await desk.start(processes)
        pushes = OperatorPushes()
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # cookies for 127.0.0.1
            await desk.log_in(http)
            await desk.go_online(http)
            async with http.ws_connect(desk.base() + "/console/ws", origin=desk.base(), heartbeat=None) as ws:
                reader = asyncio.create_task(pushes.read(ws))
                urls = [desk.base(i).replace("http", "ws") + "/chat/ws" for i in range(processes)]
                result = await drive(urls, visitors, seconds, pushes, [p.pid for p in desk.procs])
                reader.cancel()
        result["assigned"] = len(pushes.assigned)
        result["tickets"] = len(pushes.times)
        return result
    finally:
        desk.stop()


def _figures(label: str, desk: dict, echo: dict, visitors: int) -> list[dict]:
    anchor = f"bare aiohttp websocket echo, same client, {visitors} visitors"
    return [
        figure(f"web chat messages/s end to end ({label}, {visitors} visitors)", desk["rate"], "messages/s",
               anchor + ", round trips/s", echo["rate"], "ratio >= 0.25", desk["rate"] / echo["rate"] >= 0.25),
        figure(f"web chat send-to-operator-push p50 ({label})", desk["p50"], "ms", anchor + ", p50 ms", echo["p50"],
               None, None, 2),
        figure(f"web chat send-to-operator-push p99 ({label})", desk["p99"], "ms", anchor + ", p99 ms", echo["p99"],
               None, None, 2),
    ]


def _summary(label: str, r: dict) -> None:
    extra = f", {r['assigned']} of {r['tickets']} tickets assigned to the operator" if "assigned" in r else ""
    extra += f", ack p50 {r['ack_p50']:.1f} ms" if r["ack_p50"] is not None else ""
    extra += f", desk CPU {r['cpu_ms']:.2f} ms a message" if r.get("cpu_ms") is not None else ""
    extra += f"; the timed phase began {r['placing']:.1f} s after the last first message, once all were assigned" \
        if "assigned" in r else ""
    log(f"  {label}: {r['done']} messages in {r['seconds']:.1f} s = {r['rate']:.0f}/s, p50 {r['p50']:.1f} ms, "
        f"p99 {r['p99']:.1f} ms, {r['resent']} resent{extra}")


async def _measure(quick: bool, database_url: str | None) -> list[dict]:
    raise_fd_limit()
    visitors, seconds = (100, 2.0) if quick else (VISITORS, 15.0)
    figures = []
    log(f"web chat: echo anchor, {visitors} visitors, {seconds:.0f} s...")
    echo = await run_echo(visitors, seconds)
    _summary("echo anchor", echo)
    with tempfile.TemporaryDirectory() as tmp:
        log("web chat: helpline run on SQLite...")
        desk = await run_desk(Path(tmp), "", 1, visitors, seconds)
        _summary("SQLite, 1 process", desk)
    figures += _figures("SQLite", desk, echo, visitors)
    if database_url:
        url = private_pg_url(database_url, "bench_webchat")
        results = {}
        try:
            for processes in (1, 2):
                await pg_recreate(url)
                with tempfile.TemporaryDirectory() as tmp:
                    log(f"web chat: {processes} helpline run process(es) on PostgreSQL...")
                    results[processes] = await run_desk(Path(tmp), url, processes, visitors, seconds)
                    _summary(f"PostgreSQL, {processes} process(es)", results[processes])
        finally:
            await pg_recreate(url, drop_only=True)
        figures += _figures("PostgreSQL, 1 process", results[1], echo, visitors)
        two = results[2]
        figures.append(figure(f"web chat messages/s end to end (PostgreSQL, 2 processes, {visitors} visitors)",
                              two["rate"], "messages/s", f"bare aiohttp websocket echo, same client, {visitors} "
                              "visitors, round trips/s", echo["rate"], "ratio >= 0.25", two["rate"] / echo["rate"] >= 0.25))
    return figures


def measure(quick: bool, database_url: str | None) -> list[dict]:
    """The web chat figures (bench/results.json shape), measured beside the echo anchor."""
    return asyncio.run(_measure(quick, database_url))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webchat", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 visitors for 2 s instead of 500 for 15 s")
    parser.add_argument("--database-url", default="", help="also measure on this PostgreSQL server "
                        "(a database <name>_bench_webchat is dropped and created there)")
    args = parser.parse_args()
    try:
        print_figures(measure(args.quick, args.database_url or None))
    except RuntimeError as e:
        print(f"bench.webchat: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
