"""A real `helpline run` subprocess for the channel benchmarks, on SQLite or a private PostgreSQL database.

The benchmarks drive the desk over its real doors (web chat, SMTP, Telegram polling), so what
they measure includes the process boundary, the event loop and the driver, as a user sees it.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from bench.dbtemplates import SOURCE, copy_pg, copy_sqlite, helpline_cmd
from bench.figures import free_port, pg_recreate, print_figures, private_pg_url, stop_process  # noqa: F401 (re-exported)

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-" + "s" * 40


class BenchDesk:
    """One desk process: config in a temp folder, migrated database, started and stopped by the benchmark.

    ``database_url`` empty: SQLite in the data dir. A PostgreSQL URL: a private database named
    after it plus ``_bench_<tag>`` is created and dropped, so the given database is never touched.
    """

    def __init__(self, workdir: Path, database_url: str, tag: str, extra_config: str = ""):
        self.workdir = workdir
        self.tag = tag
        self.web_port = free_port()
        self.extra_config = extra_config
        self.proc: subprocess.Popen | None = None
        self.pg_name = ""
        self.database_url = ""
        if database_url:
            self.database_url = private_pg_url(database_url, f"bench_{tag}")
            self.pg_name = urlsplit(self.database_url).path.lstrip("/")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "desk.log"

    def _env(self) -> dict:
        env = dict(os.environ, HELPLINE_SECRET_KEY=SECRET, PYTHONUNBUFFERED="1")
        env.pop("HELPLINE_DATABASE_URL", None)
        return env

    def _write_config(self) -> Path:
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        config = self.workdir / "helpline.toml"
        config.write_text(f"""
[desk]
name = "bench desk"
data_dir = "data"
database_url = "{self.database_url}"
default_queue = "general"

[web]
host = "127.0.0.1"
port = {self.web_port}
secret_key = "env:HELPLINE_SECRET_KEY"

[[queues]]
name = "general"
title = "General"
{self.extra_config}
""")
        return config

    def cli(self, *args: str) -> str:
        done = subprocess.run(helpline_cmd() + [*args, "--config", str(self.workdir / "helpline.toml")],
                              capture_output=True, text=True, env=self._env(), cwd=SOURCE, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"helpline {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done.stdout

    async def start(self, ready=None, timeout: float = 90.0) -> None:
        """Migrate, start `helpline run`, wait for /healthz (and ``ready()``, an extra async check)."""
        self._write_config()
        if self.pg_name:  # the schema made once per bench run, copied for each desk (bench/dbtemplates.py)
            await copy_pg(self.database_url, None)
        else:
            await asyncio.to_thread(copy_sqlite, None, self.workdir / "data")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(helpline_cmd() + ["run", "--config", str(self.workdir / "helpline.toml")],
                                         stdout=log, stderr=subprocess.STDOUT, env=self._env(), cwd=SOURCE,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"helpline run exited with {self.proc.returncode}: {self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
                    async with http.get(self.base + "/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
                        if r.status == 200 and (ready is None or await ready()):
                            return
                await asyncio.sleep(0.1)  # polling a process we do not control; no event to wait on
        raise RuntimeError(f"the desk did not come up within {timeout:.0f} s: {self.log_tail()}")

    async def count(self, sql: str) -> int:
        """One COUNT(*) read straight from the desk's database while it runs (SQLite in WAL mode reads
        beside the writer; PostgreSQL by its own connection)."""
        if self.pg_name:
            import asyncpg

            conn = await asyncpg.connect(self.database_url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
            try:
                return int(await conn.fetchval(sql))
            finally:
                await conn.close()
        found = sorted((self.workdir / "data").glob("*.db"))
        if not found:
            return 0

        def read() -> int:
            conn = sqlite3.connect(f"file:{found[0]}?mode=ro", uri=True, timeout=10)
            try:
                return int(conn.execute(sql).fetchone()[0])
            finally:
                conn.close()

        return await asyncio.to_thread(read)

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    async def stop(self) -> None:
        """Kill the desk (its measurement is over; a graceful stop took seconds) and drop its private database."""
        await asyncio.to_thread(stop_process, self.proc)
        if self.pg_name:
            with contextlib.suppress(Exception):
                await pg_recreate(self.database_url, drop_only=True)


def figure(name: str, value: float | None, unit: str, anchor_name: str, anchor_value: float | None,
           target: float, note: str = "") -> dict:
    """One figure in bench/results.json's format; without an anchor it is not met (and says why)."""
    ratio = value / anchor_value if value is not None and anchor_value else None
    out = {"name": name, "value": round(value, 1) if value is not None else None, "unit": unit,
           "anchor": {"name": anchor_name, "value": round(anchor_value, 1)} if anchor_value else None,
           "ratio": round(ratio, 3) if ratio is not None else None, "target": f"ratio >= {target}",
           "met": ratio is not None and ratio >= target}
    if note:
        out["note"] = note
    return out
