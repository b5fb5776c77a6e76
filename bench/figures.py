"""Shared pieces of the benchmarks: figure records, percentiles, the desk and the anchor as subprocesses.

Every figure is measured beside its anchor in the same run, and both servers run as their own
processes, so the load generator never shares an event loop with what it measures.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from bench.dbtemplates import SOURCE, copy_pg, copy_sqlite, helpline_cmd, pg_recreate  # noqa: F401 (re-exported)

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-" + "s" * 40
OPERATOR = "benchop"
PASSWORD = "bench-" + secrets.token_hex(8)  # the bench operator's, one per bench process (desks share a template)


def figure(name: str, value: float, unit: str, anchor_name: str, anchor_value: float, target: str | None,
           met: bool | None, digits: int = 1) -> dict:
    """One figure in bench/results.json's shape; `ratio` is value / anchor value.

    A figure reported beside its anchor without a target has `target` and `met` null: nothing is claimed.
    """
    ratio = value / anchor_value if anchor_value else None
    return {"name": name, "value": round(value, digits), "unit": unit,
            "anchor": {"name": anchor_name, "value": round(anchor_value, digits)},
            "ratio": round(ratio, 3) if ratio is not None else None, "target": target,
            "met": None if target is None else bool(met)}


async def insert_ids(conn, table, rows: list[dict]) -> list[int]:
    """Insert rows through a Core connection; their ids in the rows' order (bot/storage/bulk.py's way, for a
    Table): on SQLite RETURNING unordered and sorted, as with sort_by_parameter_order SQLAlchemy would send
    one statement a row there."""
    from sqlalchemy import insert

    if conn.dialect.name == "sqlite":
        return sorted((await conn.execute(insert(table).returning(table.c.id), rows)).scalars())
    return list((await conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)).scalars())


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def verdict(f: dict) -> str:
    """"met", "NOT met" or "-" (no target, or none could be judged) with the target beside it."""
    if f.get("target") is None or f.get("met") is None:
        return f"- ({f['target']})" if f.get("target") else "-"
    return f"{'met' if f['met'] else 'NOT met'} ({f['target']})"


def print_figures(figures: list[dict]) -> None:
    width = max((len(f["name"]) for f in figures), default=10)
    for f in figures:
        anchor = f"anchor {f['anchor']['value']:>9}  ratio {f['ratio']}" if f.get("anchor") else ""
        note = f.get("note") or f.get("detail")
        value = "-" if f["value"] is None else f["value"]
        print(f"{f['name']:<{width}}  {value!s:>9} {f['unit']:<10} {anchor}  {verdict(f)}{f'  {note}' if note else ''}")


def log(*parts) -> None:
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit() -> int:
    """Raise this process's soft open-files limit to the hard one (children inherit it); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB, from /proc/<pid>/status (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_quiet(pid: int, share: float = 0.05, window: float = 0.5, timeout: float = 180.0) -> float:
    """Wait until a process uses under `share` of a core over `window` s (start-up jobs done); returns the wait."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = cpu_seconds(pid)
        await asyncio.sleep(window)
        if cpu_seconds(pid) - before < share * window:
            return time.monotonic() - started
    log(f"  process {pid} stayed busy for {timeout:.0f} s; measuring anyway")
    return time.monotonic() - started


def private_pg_url(url: str, suffix: str) -> str:
    """The same server, a database of the benchmark's own (`<db>_<suffix>`), so nothing else is touched."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + (parts.path.lstrip("/") or "postgres") + "_" + suffix))


async def wait_http(url: str, proc: subprocess.Popen, what: str, timeout: float = 60.0) -> None:
    """Poll `url` until it answers 200; fail early if the process died."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with status {proc.returncode} before it answered")
            with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=1)) as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} within {timeout:.0f} s")


def stop_process(proc: subprocess.Popen | None) -> None:
    """End a process the bench started, with everything it started (its own session's group), at once.

    Measurements are over when this is called: nothing the process holds is needed, and a graceful
    stop (a desk's or aiogram's shutdown) cost one to three seconds a process."""
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # every bench process starts a session of its own
    proc.wait(timeout=10)


@dataclass
class Anchor:
    """The bare aiohttp server (bench/anchor.py) in its own process: websocket echo and static pages."""

    page_bytes: int = 0
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> "Anchor":
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.anchor", "--port", str(self.port),
                                      "--page-bytes", str(self.page_bytes)], cwd=ROOT, start_new_session=True)
        try:
            await wait_http(self.base + "/healthz", self.proc, "the anchor server")
        except BaseException:
            stop_process(self.proc)
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        stop_process(self.proc)


@dataclass
class DeskProcesses:
    """A private desk: its config, schema and operator made with the `helpline` CLI, then N `helpline run`."""

    workdir: Path
    database_url: str = ""  # empty: SQLite in the data dir
    extra_config: str = ""
    operator: str = OPERATOR
    password: str = field(default_factory=lambda: PASSWORD)
    ports: list[int] = field(default_factory=list)
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.workdir / "helpline.toml"

    def base(self, i: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def env(self) -> dict:
        env = dict(os.environ, HELPLINE_SECRET_KEY=SECRET)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(helpline_cmd() + [*args, "--config", str(self.config)], input=stdin, capture_output=True,
                              text=True, env=self.env(), cwd=SOURCE, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"helpline {' '.join(args)} failed ({done.returncode}): {done.stderr[-1500:]}")
        return done.stdout

    def prepare(self) -> None:
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        url = f'database_url = "{self.database_url}"' if self.database_url else ""
        self.config.write_text(f"""
[desk]
name = "bench desk"
data_dir = "data"
{url}
default_queue = "general"

[web]
host = "127.0.0.1"
port = 8080
secret_key = "env:HELPLINE_SECRET_KEY"

{self.extra_config}

[[queues]]
name = "general"
title = "General"
""")
        # The database: a copy of the bench run's template with the schema, the queue and the operator (one
        # CLI start saved per desk); the desk's own queues come at `helpline run`.
        if self.database_url:
            asyncio.run(copy_pg(self.database_url, (self.operator, self.password)))
        else:
            copy_sqlite((self.operator, self.password), self.workdir / "data")

    async def start(self, count: int = 1) -> None:
        for _ in range(count):
            port = free_port()
            log_file = open(self.workdir / f"server-{len(self.procs)}.log", "w")
            proc = subprocess.Popen(helpline_cmd() + ["run", "--config", str(self.config), "--port", str(port)],
                                    stdout=log_file, stderr=subprocess.STDOUT, env=self.env(), cwd=SOURCE,
                                    start_new_session=True)
            log_file.close()
            self.ports.append(port)
            self.procs.append(proc)
            await wait_http(f"http://127.0.0.1:{port}/healthz", proc, f"helpline run (log: {log_file.name})")

    def stop(self) -> None:
        for proc in self.procs:
            stop_process(proc)
        self.procs.clear()
        self.ports.clear()

    async def log_in(self, http: aiohttp.ClientSession, i: int = 0) -> None:
        """Log the operator into the console through its login form; the session keeps the cookie."""
        import re

        async with http.get(self.base(i) + "/console/login") as r:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', await r.text()).group(1)
        async with http.post(self.base(i) + "/console/login", allow_redirects=False,
                             data={"username": self.operator, "password": self.password, "csrf_token": csrf}) as r:
            if r.status not in (302, 303):
                raise RuntimeError(f"console login answered {r.status}")

    async def go_online(self, http: aiohttp.ClientSession, i: int = 0) -> None:
        """Set the logged-in operator online, so the router assigns tickets to them."""
        import re

        async with http.get(self.base(i) + "/console") as r:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', await r.text()).group(1)
        async with http.post(self.base(i) + "/console/status", allow_redirects=False,
                             data={"status": "online", "csrf_token": csrf, "next": "/console"}) as r:
            if r.status not in (302, 303):
                raise RuntimeError(f"setting the operator online answered {r.status}")
