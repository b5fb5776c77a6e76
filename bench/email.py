"""Email messages/s received over SMTP by the desk, beside aiosmtpd receiving into a no-op handler.

    python -m bench.email [--quick] [--database-url URL]

The corpus is real-world mail: the standard library's own email test messages (koi8-r, RFC 2047,
delivery-status reports, nested message/rfc822, broken boundaries), each copy with a Message-ID of
its own, plus a generated reply to every earlier copy (In-Reply-To and References, from the same
sender), which the desk threads into the original's ticket. The same client (aiosmtplib over
several connections, each sending its next mail when the last got its answer) sends the same
corpus to the desk's built-in SMTP receiver (`helpline run`: 250 only after the parse, threading
and commit) and to a bare aiosmtpd server in its own process whose handler stores nothing.

Connections: 16 by default, as in a peak hour when many mail servers deliver at once (the desk
commits concurrent mails together, so how many arrive at once matters). Until 2026-11-22 the
figure was taken over 4 connections, a quiet hour; `--connections 4` gives that figure again.
Both sides always get the same count.

    python -m bench.email --sink PORT   (internal: the anchor's process)
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

import aiosmtplib

from bench.deskproc import ROOT, BenchDesk, figure, free_port, print_figures

CONNECTIONS = 16  # a peak hour: many MTAs delivering at once (was 4, a quiet hour)
DOMAIN = "support.bench.test"
RECIPIENT = f"help@{DOMAIN}"
TARGET = 0.5
MESSAGE_ID = re.compile(rb"^message-id:.*(?:\r?\n[ \t].*)*\r?\n", re.IGNORECASE | re.MULTILINE)


def corpus_files() -> list[bytes]:
    """The standard library's email test messages, as bytes."""
    import test.test_email

    folder = Path(test.test_email.__file__).parent / "data"
    return [p.read_bytes() for p in sorted(folder.glob("msg_*.txt"))]


def _sender(raw: bytes) -> str:
    head = raw.split(b"\n\n", 1)[0].decode("latin-1")
    found = re.search(r"^from:(.*(?:\n[ \t].*)*)", head, re.IGNORECASE | re.MULTILINE)
    addresses = [a for _, a in getaddresses([found.group(1)])] if found else []
    address = next((a for a in addresses if re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z]+", a)), "")
    return address


def _copy(raw: bytes, message_id: str) -> bytes:
    """The message with our Message-ID in place of its own (so every copy is a new mail)."""
    head, sep, body = raw.partition(b"\n\n")
    head = MESSAGE_ID.sub(b"", head + b"\n").rstrip(b"\n")
    return f"Message-ID: {message_id}\n".encode() + head + sep + body


def _reply(sender: str, message_id: str, n: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = RECIPIENT
    mail["Subject"] = "Re: my earlier message"
    mail["Message-ID"] = f"<reply-{n}@corpus.bench.test>"
    mail["In-Reply-To"] = message_id
    mail["References"] = message_id
    mail.set_content(f"Hello again, any news about this? (follow-up {n})\n\n> the earlier message\n")
    return mail.as_bytes()


def build(n: int, run: str) -> tuple[list[tuple[str, bytes]], int]:
    """About n (envelope sender, mail) pairs in rounds: a copy of the corpus, then replies to the round before.

    A reply goes out a whole round after its original, so the original is stored when it comes.
    Returns the mails and how many of them are replies."""
    files = corpus_files()
    mails: list[tuple[str, bytes]] = []
    earlier: list[tuple[str, str]] = []  # (sender, Message-ID) of the previous round's originals
    replies = 0
    copy = 0
    while len(mails) < n:
        this_round = []
        for i, raw in enumerate(files):
            message_id = f"<{run}-{copy}-{i}@corpus.bench.test>"
            sender = _sender(raw)
            mails.append((sender or f"unknown@{DOMAIN}", _copy(raw, message_id)))
            if sender:
                this_round.append((sender, message_id))
        for sender, message_id in earlier:
            replies += 1
            mails.append((sender, _reply(sender, message_id, replies)))
        earlier = this_round
        copy += 1
    return mails[:n], replies


async def send_all(port: int, mails: list[tuple[str, bytes]], budget: float = 600.0,
                   connections: int = CONNECTIONS) -> tuple[float, int, int]:
    """Send the mails in order over ``connections`` connections, none started after ``budget`` seconds.

    Returns (seconds, mails sent, mails not answered 250)."""
    todo = iter(mails)
    sent = refused = 0
    deadline = time.perf_counter() + budget

    async def connection() -> None:
        nonlocal sent, refused
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60, start_tls=False)
        await smtp.connect()
        try:
            for sender, raw in todo:
                if time.perf_counter() > deadline:
                    break
                sent += 1
                try:
                    await smtp.sendmail(sender, [RECIPIENT], raw)
                except aiosmtplib.SMTPResponseException:
                    refused += 1
                    await smtp.rset()
        finally:
            await smtp.quit()

    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return time.perf_counter() - start, sent, refused


async def _port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    return True


def desk_config(port: int) -> str:
    return f"""
[channels.webchat]
enabled = false

[channels.email]
enabled = true
messages_per_sender_per_hour = 1000000

[channels.email.receiver]
enabled = true
host = "127.0.0.1"
port = {port}
domains = ["{DOMAIN}"]
"""


def _stored(data_dir: Path) -> tuple[int, int] | None:
    """(inbound messages, tickets) in a stopped SQLite desk, to show the replies were threaded."""
    found = sorted(data_dir.glob("*.db"))
    if not found:
        return None
    conn = sqlite3.connect(found[0])
    try:
        return (conn.execute("SELECT COUNT(*) FROM messages WHERE direction = 'in'").fetchone()[0],
                conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])
    finally:
        conn.close()


async def measure_desk(mails, warm, database_url: str | None, budget: float,
                       connections: int = CONNECTIONS) -> tuple[float, int, tuple[int, int] | None]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        desk = BenchDesk(Path(tmp), database_url or "", "email", desk_config(port))
        try:
            await desk.start(ready=lambda: _port_open(port))
            await send_all(port, warm, connections=connections)
            cpu = _cpu_seconds(desk.proc.pid)
            seconds, sent, refused = await send_all(port, mails, budget, connections)
            cpu = _cpu_seconds(desk.proc.pid) - cpu
        finally:
            await desk.stop()
        stored = _stored(Path(tmp) / "data") if not database_url else None
    print(f"email: desk CPU {1000 * cpu / max(sent, 1):.2f} ms per mail ({sent} mails)", file=sys.stderr)
    return sent / seconds, refused, stored


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat): a steadier cost than wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure_sink(mails, warm, budget: float, connections: int = CONNECTIONS) -> tuple[float, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.email", "--sink", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not await _port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the aiosmtpd anchor did not start")
            await asyncio.sleep(0.05)  # a process we start; its port answering is the only signal
        await send_all(port, warm, connections=connections)
        seconds, sent, refused = await send_all(port, mails, budget, connections)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return sent / seconds, refused


class NoOpHandler:
    """Accepts every mail and keeps nothing."""

    async def handle_DATA(self, server, session, envelope) -> str:
        return "250 2.0.0 OK"


def sink(port: int) -> None:
    """The anchor: aiosmtpd on its own loop, set up as the desk's receiver is, with a no-op handler."""
    from aiosmtpd.smtp import SMTP

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SMTP(NoOpHandler(), enable_SMTPUTF8=True, decode_data=False,
                                                       data_size_limit=26214400, loop=loop),
                                          host="127.0.0.1", port=port)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        server.close()

    asyncio.run(serve())


async def _measure(quick: bool, database_url: str | None, connections: int, seconds: float = 0) -> list[dict]:
    n = 400 if quick else 4000
    budget = seconds or (3.0 if quick else 30.0)  # seconds of sending per side at most: a slow machine sends fewer
    mails, replies = build(n, f"run{int(time.time())}")
    warm, _ = build(50, f"warm{int(time.time())}")
    print(f"email: aiosmtpd with a no-op handler, {n} mails ({replies} of them replies) or {budget:.0f} s...",
          file=sys.stderr)
    anchor, _ = await measure_sink(mails, warm, budget, connections)
    anchor_name = f"aiosmtpd 1.4, no-op handler, same corpus and client ({connections} connections)"
    figures = []
    for label, url in [("SQLite", None)] + ([("PostgreSQL", database_url)] if database_url else []):
        print(f"email: the desk on {label}, {n} mails or {budget:.0f} s...", file=sys.stderr)
        rate, refused, stored = await measure_desk(mails, warm, url, budget, connections)
        notes = []
        if refused:
            notes.append(f"{refused} mails not answered 250")
        if stored:
            notes.append(f"stored {stored[0]} inbound messages in {stored[1]} tickets")
        figures.append(figure(f"email messages/s received over SMTP, parsed, threaded, committed ({label})",
                              rate, "messages/s", anchor_name, anchor, TARGET, "; ".join(notes)))
    return figures


def measure(quick: bool, database_url: str | None, connections: int = CONNECTIONS, seconds: float = 0) -> list[dict]:
    """The email figures (SQLite, and PostgreSQL when a URL is given) beside aiosmtpd with a no-op handler."""
    return asyncio.run(_measure(quick, database_url, connections, seconds))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.email", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer mails (about 15 s)")
    parser.add_argument("--database-url", default=os.environ.get("HELPLINE_BENCH_DATABASE_URL", ""),
                        help="also measure on this PostgreSQL (a private <name>_bench_email database is used)")
    parser.add_argument("--connections", type=int, default=CONNECTIONS,
                        help=f"SMTP connections sending at once, for both sides (default {CONNECTIONS})")
    parser.add_argument("--seconds", type=float, default=0,
                        help="seconds of sending per side at most (default 3 with --quick, else 30)")
    parser.add_argument("--sink", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        sink(args.sink)
        return 0
    print_figures(measure(args.quick, args.database_url or None, max(1, args.connections), args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
