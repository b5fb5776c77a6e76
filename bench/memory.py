"""Memory per idle web-chat socket: RSS growth of one `helpline run` process with N widget sockets open.

    python -m bench.memory [--quick] [--database-url URL]

N sockets (5,000; quick: 500) connect to /chat/ws, say hello and wait for `synced`, then stay idle.
The figure is (VmRSS after - VmRSS before) / N of the server process, read from /proc. The anchor
is the same for the bare aiohttp echo server (bench/anchor.py) with the same client: each socket
sends the same hello and waits for its echo. A few sockets are opened and closed first on both, so
lazily loaded code is not billed to the sockets.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import sys
import tempfile
from pathlib import Path

import aiohttp

from bench.figures import (
    Anchor, DeskProcesses, figure, log, pg_recreate, print_figures, private_pg_url, raise_fd_limit, rss_kib,
)

# No classifier: idle sockets never reach routing, and loading its model costs every start about 1.5 s of
# CPU (the figure is the RSS growth per socket, after start-up).
CONFIG = """
[channels.webchat]
connections_per_address = 100000

[bot]
enabled = false

[router]
classify = false
"""
TARGET_KB = 100
CONCURRENT_CONNECTS = 100


async def _open(http, url: str, count: int, want: str) -> list[aiohttp.ClientWebSocketResponse]:
    """Open `count` sockets, each through hello until its `want` frame; at most 100 handshakes at a time."""
    gate = asyncio.Semaphore(CONCURRENT_CONNECTS)

    async def one() -> aiohttp.ClientWebSocketResponse:
        async with gate:
            ws = await http.ws_connect(url, heartbeat=None)
            await ws.send_json({"type": "hello", "token": None, "last_seen": 0, "locale": "en"})
            while True:
                msg = await asyncio.wait_for(ws.receive(), 60)
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"a socket closed during hello ({msg.type.name} {msg.data!r})")
                if msg.json().get("type") == want:
                    return ws

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def per_socket(pid: int, url: str, count: int, want: str) -> float:
    """KiB of server RSS per open idle socket."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        for ws in await _open(http, url, 50, want):  # warm-up: code paths and caches loaded once
            await ws.close()
        before = rss_kib(pid)
        sockets = await _open(http, url, count, want)
        after = rss_kib(pid)
        await asyncio.gather(*(ws.close() for ws in sockets))
    gc.collect()
    log(f"  {count} sockets: server RSS {before / 1024:.1f} MiB -> {after / 1024:.1f} MiB")
    return (after - before) / count


async def _start(desk: DeskProcesses) -> None:
    if desk.database_url:
        await pg_recreate(desk.database_url)
    await asyncio.to_thread(desk.prepare)
    await desk.start(1)


async def _measure(quick: bool, database_url: str | None) -> list[dict]:
    raise_fd_limit()
    count = 500 if quick else 5000
    targets = [("SQLite", "")]
    if database_url:
        targets.append(("PostgreSQL", private_pg_url(database_url, "bench_memory")))
    figures, echo = [], 0.0
    for i, (label, url) in enumerate(targets):
        with tempfile.TemporaryDirectory() as tmp:
            desk = DeskProcesses(Path(tmp), url, CONFIG)
            starting = asyncio.ensure_future(_start(desk))
            try:
                if i == 0:
                    # The anchor's sockets while the first desk starts: the figures are RSS, not time, so the
                    # overlap saves the desk's start-up (about 2 s) without changing what is measured.
                    log(f"memory: {count} idle sockets on the echo anchor...")
                    async with Anchor() as anchor:
                        echo = await per_socket(anchor.proc.pid, anchor.base.replace("http", "ws") + "/ws", count, "hello")
                await starting
                log(f"memory: {count} idle widget sockets on helpline run ({label})...")
                kib = await per_socket(desk.procs[0].pid, desk.base().replace("http", "ws") + "/chat/ws", count, "synced")
            finally:
                if not starting.done():
                    starting.cancel()
                with contextlib.suppress(BaseException):
                    await starting
                desk.stop()
                if url:
                    await pg_recreate(url, drop_only=True)
        figures.append(figure(f"RSS per idle web-chat socket ({label}, {count} sockets)", kib * 1.024, "KB",
                              f"bare aiohttp websocket echo, {count} sockets, KB per socket", echo * 1.024,
                              f"value < {TARGET_KB} KB", kib * 1.024 < TARGET_KB))
    return figures


def measure(quick: bool, database_url: str | None) -> list[dict]:
    """The memory figures (bench/results.json shape), measured beside the echo anchor."""
    return asyncio.run(_measure(quick, database_url))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 sockets instead of 5,000")
    parser.add_argument("--database-url", default="", help="also measure on this PostgreSQL server "
                        "(a database <name>_bench_memory is dropped and created there)")
    args = parser.parse_args()
    try:
        print_figures(measure(args.quick, args.database_url or None))
    except RuntimeError as e:
        print(f"bench.memory: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
