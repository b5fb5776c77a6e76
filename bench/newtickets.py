"""New tickets/s: first messages from new web-chat visitors, beside django-helpdesk's REST API.

    python -m bench.newtickets [--quick] [--database-url URL]

Desk side: a running `helpline run`; each visitor opens the chat socket, says hello without a
token (a new visitor), sends one message and waits for its ack (sent only after the commit that
creates the client and the ticket); the run ends when the router has placed every ticket. Peer side: django-helpdesk 2.6
under gunicorn (2 sync workers, one per core) on SQLite, `POST /helpdesk/api/tickets/` with a
staff user's token, answered 201. Both sides get the same number of concurrent clients, each
sending its next request as soon as the previous one was answered. The peer and the SQLite desk
start together; the peer is timed while the desk sits idle, then killed before the desk is timed.

The peer lives in its own venv (bench/.peer-venv, `make bench` creates it); without it the figure
has no anchor and is not met, and says how to create it.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

from bench.deskproc import ROOT, BenchDesk, figure, free_port, print_figures, stop_process
from bench.figures import wait_quiet

CLIENTS = 20
PEER_WORKERS = 2  # gunicorn sync workers, one per core of this machine
ROUTED = "SELECT COUNT(DISTINCT ticket_id) FROM routing_decisions"
PEER_VENV = ROOT / "bench" / ".peer-venv"
PEER_PROJECT = ROOT / "bench" / "peer_helpdesk"
DESK_CONFIG = """
[channels.webchat]
enabled = true
messages_per_minute = 100000
connections_per_address = 100000

[bot]
enabled = false
"""


async def _run_clients(n: int, one, budget: float = 600.0) -> tuple[float, int, Counter]:
    """Run ``one(i)`` for i < n over CLIENTS concurrent workers, none started after ``budget`` seconds.

    ``one`` returns "" on success, else what went wrong. Returns (seconds, successes, failures by reason);
    the budget keeps a slow machine's run within the bench's time."""
    counter = iter(range(n))
    failures: Counter = Counter()
    done = 0
    deadline = time.perf_counter() + budget

    async def worker() -> None:
        nonlocal done
        for i in counter:
            if time.perf_counter() > deadline:
                return
            try:
                problem = await one(i)
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                problem = type(exc).__name__
            if problem:
                failures[problem] += 1
            else:
                done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    return time.perf_counter() - start, done, failures


async def _visitor(http: aiohttp.ClientSession, base: str, i: int, run: str) -> str:
    """One new visitor: hello without a token, one message, its ack ("" when acknowledged with a ticket)."""
    async with http.ws_connect(base + "/chat/ws", heartbeat=None) as ws:
        await ws.send_json({"type": "hello", "token": None, "last_seen": 0, "locale": "en"})
        sent = False
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                return f"socket {msg.type.name.lower()}"
            frame = json.loads(msg.data)
            if frame.get("type") == "synced" and not sent:
                sent = True
                await ws.send_json({"type": "message", "id": f"{run}-{i}", "name": f"Visitor {i}",
                                    "text": f"Hello, my parcel NW-{i:06d} has not arrived, can you check?"})
            elif frame.get("type") == "ack":
                return "" if frame.get("ticket") else "ack without a ticket"
            elif frame.get("type") == "error":
                return f"error frame {frame.get('code')}"
    return "socket closed"


async def _wait_routed(desk: BenchDesk, count: int, deadline: float) -> None:
    """Until the router has placed every acknowledged ticket (its decisions are rows in the desk's database)."""
    while await desk.count(ROUTED) < count:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the router placed fewer than {count} tickets in time: {desk.log_tail()}")
        await asyncio.sleep(0.02)  # read until the rows are there; the desk has no other signal for it


async def measure_desk(n: int, database_url: str | None, budget: float = 600.0, before=None) -> tuple[float, Counter]:
    """Tickets/s through a running desk's web chat; returns (rate, failures by reason). ``before()``: awaited
    once the desk is up and quiet, before it is timed (the peer's turn, so both start-ups overlap)."""
    with tempfile.TemporaryDirectory() as tmp:
        desk = BenchDesk(Path(tmp), database_url or "", "newtickets", DESK_CONFIG)
        try:
            await desk.start()
            if before is not None:
                await wait_quiet(desk.proc.pid)
                await before()
            connector = aiohttp.TCPConnector(limit=CLIENTS * 2)
            async with aiohttp.ClientSession(connector=connector) as http:
                await _run_clients(CLIENTS, lambda i: _visitor(http, desk.base, i, "warm"))  # first connections, imports
                routed_before = await desk.count(ROUTED)
                start = time.perf_counter()
                _, done, failures = await _run_clients(n, lambda i: _visitor(http, desk.base, i, "run"), budget)
                await _wait_routed(desk, routed_before + done, start + budget + 60)
                seconds = time.perf_counter() - start
        finally:
            await desk.stop()
    return done / seconds, failures


def peer_python() -> Path | None:
    python = PEER_VENV / "bin" / "python"
    return python if (PEER_VENV / ".installed").exists() and python.exists() else None


class Peer:
    """django-helpdesk under gunicorn in a folder of its own; `start` only launches it, `measure` waits for it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.python = peer_python()
        self.env = dict(os.environ, PEER_DB=str(folder / "peer.sqlite3"), DJANGO_SETTINGS_MODULE="settings")
        self.env.pop("PYTHONPATH", None)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.setup: dict = {}

    async def start(self) -> None:
        """Migrate its database (once per checkout of the peer's project, then copied), then launch gunicorn."""
        self.setup = await asyncio.to_thread(self._database)
        with open(self.folder / "gunicorn.log", "w") as log:
            self.proc = subprocess.Popen([str(self.python), "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
                                          "--workers", str(PEER_WORKERS), "--log-level", "warning", "wsgi:application"],
                                         cwd=PEER_PROJECT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def _database(self) -> dict:
        """The migrated peer database with its queue and staff token: Django's migrations take seconds of
        CPU, so the result is kept in the peer's venv, named after what made it, and copied for each run."""
        made_by = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(PEER_PROJECT.glob("*.py"))) +
                                 (PEER_VENV / ".installed").read_bytes() +
                                 str((PEER_VENV / ".installed").stat().st_mtime_ns).encode()).hexdigest()[:16]
        template = PEER_VENV / f"bench-peer-{made_by}.sqlite3"
        if not template.exists():
            env = dict(self.env, PEER_DB=str(self.folder / "template.sqlite3"))
            done = subprocess.run([str(self.python), "prepare.py"], cwd=PEER_PROJECT, env=env, capture_output=True,
                                  text=True, timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"preparing django-helpdesk failed: {done.stderr[-1500:]}")
            setup = done.stdout.strip().splitlines()[-1]
            json.loads(setup)
            part = template.with_name(f"{template.name}.{os.getpid()}.part")
            shutil.copyfile(self.folder / "template.sqlite3", part)
            template.with_suffix(".json").write_text(setup)
            os.replace(part, template)  # the database last: it marks the pair complete
        shutil.copyfile(template, self.folder / "peer.sqlite3")
        return json.loads(template.with_suffix(".json").read_text())

    async def measure(self, n: int, budget: float) -> tuple[float, Counter]:
        """Tickets/s through the REST API; returns (rate, failures by reason)."""
        url = f"http://127.0.0.1:{self.port}/helpdesk/api/tickets/"
        headers = {"Authorization": f"Token {self.setup['token']}"}
        async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=CLIENTS * 2)) as http:
            await _wait_peer(http, url, self.proc, self.folder / "gunicorn.log")

            async def one(i: int) -> str:
                body = {"queue": self.setup["queue"], "title": f"Parcel NW-{i:06d}", "priority": 3,
                        "description": f"Hello, my parcel NW-{i:06d} has not arrived, can you check?",
                        "submitter_email": f"visitor{i}@client.bench.test"}
                async with http.post(url, json=body) as r:
                    await r.read()
                    return "" if r.status == 201 else f"HTTP {r.status}"

            await _run_clients(CLIENTS, one)  # warm-up: both workers loaded
            seconds, done, failures = await _run_clients(n, one, budget)
        return done / seconds, failures

    def stop(self) -> None:
        stop_process(self.proc)


async def _wait_peer(http: aiohttp.ClientSession, url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}: {log.read_text()[-1500:]}")
        try:
            async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                if r.status < 500:
                    return
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(0.1)  # gunicorn gives no readiness signal but its port answering
    raise RuntimeError("django-helpdesk did not answer within 60 s")


def _reasons(failures: Counter) -> str:
    return ", ".join(f"{count} {reason}" for reason, count in failures.most_common())


async def _measure(quick: bool, database_url: str | None) -> list[dict]:
    n_desk, n_peer = (400, 100) if quick else (3000, 600)
    budget = 3.0 if quick else 30.0  # seconds of sending per side at most
    anchor_name = f"django-helpdesk 2.6 POST /helpdesk/api/tickets/ (gunicorn, SQLite, {CLIENTS} concurrent clients)"
    note = ""
    peer = None
    targets = [("SQLite", None)] + ([("PostgreSQL", database_url)] if database_url else [])
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        side = Peer(Path(tmp)) if peer_python() else None
        if side is None:
            note = "anchor missing: django-helpdesk's venv bench/.peer-venv is not installed (run `make bench`)"
            print(f"newtickets: {note}", file=sys.stderr)
        launched = asyncio.create_task(side.start()) if side else None  # its start-up overlaps the first desk's

        async def peer_turn() -> None:
            """The peer, timed while the first desk sits idle; then it is gone."""
            nonlocal peer, note
            print(f"newtickets: django-helpdesk, {n_peer} tickets or {budget:.0f} s...", file=sys.stderr)
            try:
                await launched
                peer, peer_failed = await side.measure(n_peer, budget)
                if peer_failed:
                    note = f"peer requests failed: {_reasons(peer_failed)}; "
            except (RuntimeError, OSError, ValueError, KeyError, aiohttp.ClientError, asyncio.TimeoutError,
                    subprocess.TimeoutExpired) as exc:
                note = f"anchor missing: django-helpdesk could not be measured ({exc})"
                print(f"newtickets: {note}", file=sys.stderr)
            finally:
                side.stop()

        try:
            turn = peer_turn if side else None
            for label, url in targets:
                print(f"newtickets: the desk on {label}, {n_desk} new visitors or {budget:.0f} s...", file=sys.stderr)
                rate, failed = await measure_desk(n_desk, url, budget, before=turn)
                turn = None
                extra = f"visitors without an ack: {_reasons(failed)}" if failed else ""
                figures.append(figure(f"new tickets/s, web chat, new visitors ({label}, {CLIENTS} concurrent clients)",
                                      rate, "tickets/s", anchor_name, peer, 50,
                                      "; ".join(filter(None, (note.rstrip("; "), extra)))))
        finally:
            if launched is not None:
                launched.cancel()
                await asyncio.gather(launched, return_exceptions=True)
                side.stop()
    return figures


def measure(quick: bool, database_url: str | None) -> list[dict]:
    """The new-tickets figures (SQLite, and PostgreSQL when a URL is given) beside django-helpdesk."""
    return asyncio.run(_measure(quick, database_url))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.newtickets", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tickets (about 15 s)")
    parser.add_argument("--database-url", default=os.environ.get("HELPLINE_BENCH_DATABASE_URL", ""),
                        help="also measure on this PostgreSQL (a private <name>_bench_newtickets database is used)")
    args = parser.parse_args()
    print_figures(measure(args.quick, args.database_url or None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
