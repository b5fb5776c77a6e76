"""`make chaos`: kill -9 the desk under mixed traffic, restart it, and prove nothing acknowledged is lost.

    python -m bench.chaos [--kills N] [--database-url URL] [--quick] [--[no-]telegram] [--seed S] [--out FILE]

For each database (SQLite always; PostgreSQL when --database-url names one) the harness writes a
private config (data dir in a temp folder, web chat and the built-in SMTP receiver on free loopback
ports, a fast outbox), creates an admin and an API token with the `helpline` CLI, starts
`helpline run` as a subprocess and drives traffic at it:

- web-chat visitors send messages with client ids and, after every reconnect, resend each one not
  yet acknowledged with the same id (as docs/webchat-protocol.md asks of clients);
- SMTP senders deliver mail with unique Message-IDs and resend any mail that did not get its 250;
- Telegram users write to a bot whose Bot API is a fake server in this process
  (tests/fakes/telegram_api.py): each message is an update the fake offers to getUpdates until
  the desk confirms it with a higher offset, as Telegram does, so a message counts as
  acknowledged once its offset was confirmed, and an unconfirmed one is offered again after a kill;
- an operator replies to web-chat tickets through the REST API, so outbox rows get queued.

Meanwhile the server is SIGKILLed at random moments and restarted. At the end, with the server
stopped, the database is read directly: every acknowledged message must be stored exactly once,
every queued outbox item sent, no ticket may show two assignees, and SQLite must pass
`PRAGMA integrity_check`. Results go to bench/chaos.json; the exit status is 1 on any loss,
duplicate or failed check. Traffic goes only to 127.0.0.1; every loop is bounded in count and time.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench" / "chaos.json"
MARK = re.compile(r"chaos-[0-9a-f]{8}-[a-z]+\d*-\d+")
TELEGRAM_TOKEN = "123456789:AAHchaosTOKENforTHEbenchABCDEFGHIJKL"


def log(*parts) -> None:
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the desk as a subprocess ---


def helpline_cmd() -> list[str]:
    return [sys.executable, "-m", "bot.cli"] if not (Path(sys.executable).parent / "helpline").exists() \
        else [str(Path(sys.executable).parent / "helpline")]


@dataclass
class Desk:
    workdir: Path
    database_url: str
    web_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    token: str = ""
    starts: int = 0
    telegram_api: str = ""  # the fake Bot API's URL; empty: no Telegram channel

    @property
    def config(self) -> Path:
        return self.workdir / "helpline.toml"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def env(self) -> dict:
        env = dict(os.environ)
        env["HELPLINE_SECRET_KEY"] = "chaos-" + "k" * 40
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def write_config(self) -> None:
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        self.config.write_text(f"""
[desk]
name = "chaos desk"
data_dir = "data"
database_url = "{self.database_url}"
default_queue = "general"

[web]
host = "127.0.0.1"
port = {self.web_port}
secret_key = "env:HELPLINE_SECRET_KEY"

[outbox]
max_attempts = 50
first_retry_seconds = 0.2
max_retry_seconds = 1.0
lease_seconds = 2.0

[channels.webchat]
enabled = true
messages_per_minute = 100000
connections_per_address = 1000

[channels.email]
enabled = true
messages_per_sender_per_hour = 100000

[channels.email.receiver]
enabled = true
host = "127.0.0.1"
port = {self.smtp_port}
domains = ["support.chaos.test"]

[[queues]]
name = "general"
title = "General"
""" + (f"""
[channels.telegram]
token = "{TELEGRAM_TOKEN}"
api_server = "{self.telegram_api}"
polling_timeout = 2
chat_messages_per_second = 1000.0
messages_per_second = 1000.0
""" if self.telegram_api else ""))

    def cli(self, *args: str, stdin: str | None = None) -> str:
        cmd = helpline_cmd() + [args[0], *args[1:]]
        done = subprocess.run(cmd + ["--config", str(self.config)], input=stdin, capture_output=True, text=True,
                              env=self.env(), cwd=ROOT, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done.stdout

    def prepare(self) -> None:
        self.write_config()
        self.cli("db", "upgrade")
        self.cli("operators", "add", "chaosadmin", "--role", "admin", "--queues", "general", "--password-stdin",
                 stdin="chaos-password-" + secrets.token_hex(8) + "\n")
        self.token = self.cli("tokens", "create", "chaosadmin", "--name", "chaos").strip().splitlines()[0].strip()

    async def start(self, timeout: float = 60.0) -> float:
        """Start `helpline run` and wait until /healthz answers; returns the seconds it took."""
        t0 = time.monotonic()
        logf = open(self.workdir / f"server-{self.starts:03d}.log", "w")
        self.starts += 1
        self.proc = subprocess.Popen(helpline_cmd() + ["run", "--config", str(self.config), "--port", str(self.web_port)],
                                     stdout=logf, stderr=subprocess.STDOUT, env=self.env(), cwd=ROOT,
                                     start_new_session=True)
        logf.close()
        async with aiohttp.ClientSession() as http:
            while time.monotonic() - t0 < timeout:
                if self.proc.poll() is not None:
                    tail = Path(logf.name).read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"helpline run exited with {self.proc.returncode}; {logf.name} ends:\n{tail}")
                with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
                    async with http.get(self.base + "/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
                        if r.status == 200 and await self._smtp_ready():
                            return time.monotonic() - t0
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the desk did not come up within {timeout} s; see {logf.name}")

    async def _smtp_ready(self) -> bool:
        try:
            _, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.smtp_port), 1)
        except (OSError, asyncio.TimeoutError):
            return False
        w.close()
        return True

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


# --- traffic ---


@dataclass
class Ledger:
    run: str
    sent: set = field(default_factory=set)  # markers of every message the harness tried to send
    acked: set = field(default_factory=set)  # markers the desk acknowledged (ack frame / SMTP 250)
    replies_posted: int = 0  # REST replies answered 201
    replies_seen: set = field(default_factory=set)  # markers of operator replies a visitor's socket carried
    chat_tickets: set = field(default_factory=set)  # web-chat ticket numbers from acks, for the operator
    ws_connects: int = 0
    error_codes: dict = field(default_factory=dict)  # web-chat error frames by code
    ws_errors: int = 0
    smtp_errors: int = 0
    telegram_updates: dict = field(default_factory=dict)  # update_id -> marker, for every update queued

    def confirm_telegram(self, offsets: list) -> int:
        """Updates below the highest offset the desk sent are confirmed: acknowledged (Bot API getUpdates)."""
        confirmed = max((o for o in offsets if o is not None), default=0)  # see confirmed_offset
        for update_id, mark in self.telegram_updates.items():
            if update_id < confirmed:
                self.acked.add(mark)
        return confirmed

    def marker(self, kind: str, n: int) -> str:
        return f"chaos-{self.run}-{kind}-{n}"


class Visitor:
    def __init__(self, name: str, ledger: Ledger, desk: Desk, rng: random.Random):
        self.name, self.ledger, self.desk, self.rng = name, ledger, desk, rng
        self.token: str | None = None
        self.pending: dict[str, str] = {}  # client id -> text, until acked
        self.last_seen = 0
        self.n = 0

    async def run(self, generating: asyncio.Event, stop_at: float, per_visitor: int) -> None:
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < stop_at:
                if not generating.is_set() and not self.pending:
                    return
                try:
                    await self._session(http, generating, stop_at, per_visitor)
                except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ConnectionError):
                    self.ledger.ws_errors += 1
                await asyncio.sleep(self.rng.uniform(0.05, 0.3))

    async def _session(self, http, generating, stop_at, per_visitor) -> None:
        async with http.ws_connect(self.desk.base + "/chat/ws", timeout=aiohttp.ClientWSTimeout(ws_close=2),
                                   heartbeat=None) as ws:
            self.ledger.ws_connects += 1
            await ws.send_json({"type": "hello", "token": self.token, "last_seen": self.last_seen, "locale": "en"})
            synced = False
            next_send = time.monotonic()
            retry: dict[str, float] = {}  # client id -> when to resend (after unavailable / rate_limited)
            last_ack = time.monotonic()
            while time.monotonic() < stop_at:
                now = time.monotonic()
                for cid, when in list(retry.items()):
                    if now >= when:
                        retry.pop(cid)
                        if cid in self.pending:
                            await ws.send_json({"type": "message", "id": cid, "text": self.pending[cid],
                                                "name": self.name})
                if synced and self.pending and now - last_ack > 10:
                    return  # nothing acknowledged for 10 s: treat the socket as dead and reconnect
                if synced and generating.is_set() and self.n < per_visitor and time.monotonic() >= next_send:
                    self.n += 1
                    cid = f"{self.name}-{self.n}"
                    text = f"Hello, where is my order? {self.ledger.marker(self.name, self.n)}"
                    self.pending[cid] = text
                    self.ledger.sent.add(MARK.search(text).group())
                    await ws.send_json({"type": "message", "id": cid, "text": text, "name": self.name})
                    next_send = time.monotonic() + self.rng.uniform(0.02, 0.2)
                if synced and not generating.is_set() and not self.pending:
                    return
                try:
                    msg = await ws.receive(timeout=0.05)
                except asyncio.TimeoutError:
                    continue
                if msg.type != aiohttp.WSMsgType.TEXT:
                    return  # closed (the server died or is restarting): reconnect
                frame = json.loads(msg.data)
                kind = frame.get("type")
                if kind == "welcome":
                    self.token = frame["token"]
                elif kind == "synced":
                    synced = True
                    for cid, text in list(self.pending.items()):  # resend unacked with the same ids
                        await ws.send_json({"type": "message", "id": cid, "text": text, "name": self.name})
                elif kind == "ack":
                    last_ack = time.monotonic()
                    text = self.pending.pop(frame.get("id"), None)
                    if frame.get("ticket"):
                        self.ledger.chat_tickets.add(int(frame["ticket"]))
                    if text is not None:
                        self.ledger.acked.add(MARK.search(text).group())
                elif kind == "message":
                    mid = int(frame.get("message_id") or frame.get("id") or 0)
                    self.last_seen = max(self.last_seen, mid)
                    cid = frame.get("client_id")
                    if cid and cid in self.pending:  # stored before the crash; the replay is its ack
                        self.ledger.acked.add(MARK.search(self.pending.pop(cid)).group())
                    if frame.get("author") == "operator":
                        found = MARK.search(frame.get("text") or "")
                        if found:
                            self.ledger.replies_seen.add(found.group())
                elif kind == "error":
                    code = frame.get("code", "")
                    self.ledger.error_codes[code] = self.ledger.error_codes.get(code, 0) + 1
                    if frame.get("id") in self.pending and code in ("unavailable", "rate_limited", "internal_error"):
                        retry[frame["id"]] = time.monotonic() + min(5.0, float(frame.get("retry_after") or 0.5))
                    if frame.get("id") in self.pending and frame.get("code") in ("not_accepted", "empty_message",
                                                                                  "message_too_long"):
                        log(f"  {self.name}: message {frame['id']} refused: {frame}")
                        self.pending.pop(frame["id"])


class SmtpSender:
    def __init__(self, name: str, ledger: Ledger, desk: Desk, rng: random.Random):
        self.name, self.ledger, self.desk, self.rng = name, ledger, desk, rng
        self.pending: dict[str, EmailMessage] = {}
        self.n = 0

    def _mail(self, n: int) -> EmailMessage:
        mark = self.ledger.marker(self.name, n)
        m = EmailMessage()
        m["From"] = f"{self.name} <{self.name}@client.chaos.test>"
        m["To"] = "help@support.chaos.test"
        m["Subject"] = f"Question {n}"
        m["Message-ID"] = f"<{mark}@client.chaos.test>"
        m.set_content(f"Hello, my parcel did not arrive. {mark}\n")
        return m

    def _send(self, mail: EmailMessage) -> None:
        with smtplib.SMTP("127.0.0.1", self.desk.smtp_port, timeout=5) as smtp:
            smtp.send_message(mail)  # raises unless the DATA was answered 250

    async def run(self, generating: asyncio.Event, stop_at: float, per_sender: int) -> None:
        while time.monotonic() < stop_at:
            if generating.is_set() and self.n < per_sender:
                self.n += 1
                mark = self.ledger.marker(self.name, self.n)
                self.pending[mark] = self._mail(self.n)
                self.ledger.sent.add(mark)
            elif not self.pending:
                if not generating.is_set():
                    return
                await asyncio.sleep(0.1)
                continue
            for mark, mail in list(self.pending.items()):
                try:
                    await asyncio.to_thread(self._send, mail)
                except (smtplib.SMTPException, OSError):
                    self.ledger.smtp_errors += 1
                    await asyncio.sleep(self.rng.uniform(0.1, 0.3))
                    break
                self.pending.pop(mark)
                self.ledger.acked.add(mark)
            await asyncio.sleep(self.rng.uniform(0.05, 0.3))


def confirmed_offset(api) -> int:
    return max((o for o in api.offsets if o is not None), default=0)


class TelegramUser:
    """A private chat with the bot: messages become updates queued at the fake Bot API.

    A user writes on while at most MAX_UNCONFIRMED of their updates wait, so the backlog a
    restart leaves stays small enough to drain within the run's time budget.
    """

    MAX_UNCONFIRMED = 15

    def __init__(self, name: str, user_id: int, ledger: Ledger, api, rng: random.Random):
        self.name, self.user_id, self.ledger, self.api, self.rng = name, user_id, ledger, api, rng
        self.n = 0
        self.waiting: list[int] = []  # this user's update ids not yet confirmed

    def _update(self, n: int, text: str) -> dict:
        person = {"id": self.user_id, "is_bot": False, "first_name": self.name, "language_code": "en"}
        return {"message": {"message_id": n, "date": int(time.time()), "chat": {"id": self.user_id, "type": "private",
                                                                               "first_name": self.name},
                            "from": person, "text": text}}

    async def run(self, generating: asyncio.Event, stop_at: float, per_user: int) -> None:
        while generating.is_set() and time.monotonic() < stop_at and self.n < per_user:
            confirmed = confirmed_offset(self.api)
            self.waiting = [u for u in self.waiting if u >= confirmed]
            if len(self.waiting) >= self.MAX_UNCONFIRMED:
                await asyncio.sleep(0.1)
                continue
            self.n += 1
            mark = self.ledger.marker(self.name, self.n)
            self.ledger.sent.add(mark)
            update_id, = self.api.push(self._update(self.n, f"Hi, my delivery is late. {mark}"))
            self.ledger.telegram_updates[update_id] = mark
            self.waiting.append(update_id)
            await asyncio.sleep(self.rng.uniform(0.05, 0.3))


async def telegram_drained(ledger: Ledger, api, until: float) -> None:
    """Wait (bounded) until the desk confirmed every queued update; the verdict reports the rest."""
    while time.monotonic() < until:
        if ledger.confirm_telegram(api.offsets) > max(ledger.telegram_updates, default=0):
            return
        await asyncio.sleep(0.2)


async def operator(ledger: Ledger, desk: Desk, generating: asyncio.Event, rng: random.Random) -> None:
    """Reply to web-chat tickets through the REST API while traffic lasts (errors during kills are expected)."""
    n = 0
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {desk.token}"}) as http:
        while generating.is_set():
            await asyncio.sleep(rng.uniform(0.1, 0.4))
            if not ledger.chat_tickets:
                continue
            number = rng.choice(sorted(ledger.chat_tickets))  # web-chat tickets, learned from acks
            try:
                n += 1
                async with http.post(desk.base + f"/api/v1/tickets/{number}/messages",
                                     json={"text": f"We are on it. {ledger.marker('reply', n)}"},
                                     timeout=aiohttp.ClientTimeout(total=3)) as r:
                    if r.status == 201:
                        ledger.replies_posted += 1
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError, KeyError):
                pass


# --- the database, read directly once the desk is stopped ---


def pg_admin_dsn(url: str, database: str | None = None) -> str:
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://"))
    return urlunsplit(parts._replace(path="/" + (database if database is not None else parts.path.lstrip("/"))))


def private_pg_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "postgres") + "_chaos"
    return urlunsplit(parts._replace(path="/" + name)), name


async def pg_recreate(url: str, name: str, drop_only: bool = False) -> None:
    import asyncpg
    conn = await asyncpg.connect(pg_admin_dsn(url, "postgres"), timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


QUERIES = {
    "inbound": "SELECT text FROM messages WHERE direction = 'in'",
    "replies": "SELECT text FROM messages WHERE direction = 'out' AND author_kind = 'operator'",
    "outbox": "SELECT o.status, COUNT(*) FROM outbox o GROUP BY o.status",
    "outbound_unqueued": ("SELECT COUNT(*) FROM messages m WHERE m.direction = 'out' AND m.author_kind = 'operator' "
                          "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id)"),
    "bad_assignee": ("SELECT COUNT(*) FROM tickets t WHERE t.assignee_id IS NOT NULL "
                     "AND NOT EXISTS (SELECT 1 FROM operators o WHERE o.id = t.assignee_id)"),
    "assigned_events": "SELECT ticket_id, operator_id, kind FROM audit_events WHERE kind IN "
                       "('assigned', 'transferred', 'unassigned', 'released') ORDER BY id",
    "tickets": "SELECT COUNT(*) FROM tickets",
}


async def read_db(desk: Desk) -> dict:
    rows: dict = {}
    if desk.database_url.startswith("postgresql"):
        import asyncpg
        conn = await asyncpg.connect(pg_admin_dsn(desk.database_url), timeout=10)
        try:
            for key, sql in QUERIES.items():
                rows[key] = [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()
        rows["integrity"] = "ok (PostgreSQL: not applicable)"
    else:
        path = next((desk.workdir / "data").glob("*.db"), None) or next((desk.workdir / "data").glob("*.sqlite*"))
        conn = sqlite3.connect(path)
        try:
            for key, sql in QUERIES.items():
                rows[key] = conn.execute(sql).fetchall()
            rows["integrity"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
    return rows


def verdict(ledger: Ledger, rows: dict, kills: int) -> dict:
    stored_counts: dict[str, int] = {}
    for (text,) in rows["inbound"]:
        for mark in set(MARK.findall(text or "")):
            if mark.startswith(f"chaos-{ledger.run}-"):
                stored_counts[mark] = stored_counts.get(mark, 0) + 1
    lost = sorted(ledger.acked - stored_counts.keys())
    by_client: dict[str, int] = {}
    for mark in ledger.sent - ledger.acked:
        who = mark.split("-")[2]
        by_client[who] = by_client.get(who, 0) + 1
    replies = {m for (text,) in rows["replies"] for m in MARK.findall(text or "")}
    dups = {m: c for m, c in stored_counts.items() if c > 1}
    outbox = {status: count for status, count in rows["outbox"]}
    queued = sum(outbox.values())
    delivered = outbox.get("sent", 0) + outbox.get("delivered", 0)
    # One assignee column cannot hold two; the audit trail must not show a ticket taken by a second
    # operator without a transfer or release in between.
    holder: dict[int, int] = {}
    double = set()
    for ticket_id, operator_id, kind in rows["assigned_events"]:
        if kind == "assigned":
            if ticket_id in holder and holder[ticket_id] != operator_id:
                double.add(ticket_id)
            holder[ticket_id] = operator_id
        else:
            holder.pop(ticket_id, None)
    return {
        "kills": kills,
        "sent": len(ledger.sent),
        "acknowledged": len(ledger.acked),
        "stored": len(stored_counts),
        "stored_unacknowledged": len(stored_counts.keys() - ledger.acked),
        "lost": len(lost),
        "duplicated": sum(c - 1 for c in dups.values()),
        "outbound_queued": queued,
        "outbound_delivered": delivered,
        "outbound_undelivered": queued - delivered,
        "outbound_without_outbox_row": rows["outbound_unqueued"][0][0],
        "outbox_by_status": outbox,
        "replies_posted": ledger.replies_posted,
        "replies_stored": len(replies),
        "replies_seen_by_visitors": len(replies & ledger.replies_seen),
        "tickets": rows["tickets"][0][0],
        "bad_assignee": rows["bad_assignee"][0][0],
        "double_assigned": len(double),
        "integrity": rows["integrity"],
        "websocket_connects": ledger.ws_connects,
        "smtp_errors": ledger.smtp_errors,
        "webchat_error_frames": ledger.error_codes,
        "unacknowledged_by_client": by_client,
        "lost_examples": lost[:10],
        "duplicated_examples": sorted(dups)[:10],
    }


def failed(result: dict) -> list[str]:
    why = []
    if result["lost"]:
        why.append(f"{result['lost']} acknowledged messages lost")
    if result["duplicated"]:
        why.append(f"{result['duplicated']} duplicate copies")
    if result["outbound_undelivered"]:
        why.append(f"{result['outbound_undelivered']} outbox items not sent")
    if result["outbound_without_outbox_row"]:
        why.append(f"{result['outbound_without_outbox_row']} replies without an outbox row")
    if result["bad_assignee"] or result["double_assigned"]:
        why.append("a ticket with two assignees or a dangling one")
    if not str(result["integrity"]).startswith("ok"):
        why.append(f"integrity check: {result['integrity']}")
    if result["acknowledged"] == 0:
        why.append("nothing was acknowledged: the harness did not exercise the desk")
    return why


# --- one database ---


async def chaos_run(database_url: str, label: str, kills: int, quick: bool, rng: random.Random,
                    time_budget: float, telegram: bool = True) -> dict:
    deadline = time.monotonic() + time_budget
    with tempfile.TemporaryDirectory(prefix=f"helpline-chaos-{label}-") as tmp:
        pg_name = None
        if database_url.startswith("postgresql"):
            database_url, pg_name = private_pg_url(database_url)
            await pg_recreate(database_url, pg_name)
        desk = Desk(Path(tmp), database_url)
        api = None
        if telegram:
            from tests.fakes.telegram_api import FakeBotAPI

            api = FakeBotAPI(TELEGRAM_TOKEN)
            desk.telegram_api = await api.start(free_port())
        try:
            log(f"[{label}] preparing {desk.workdir} ({database_url.split('://')[0]})")
            desk.prepare()
            boot = await desk.start()
            log(f"[{label}] desk up in {boot:.1f} s on :{desk.web_port} (SMTP :{desk.smtp_port})")
            ledger = Ledger(run=uuid.uuid4().hex[:8])
            generating = asyncio.Event()
            generating.set()
            n_visitors, n_smtp = (3, 1) if quick else (6, 2)
            n_telegram = 0 if api is None else (1 if quick else 3)
            per_client = 10_000  # bounded by time: generation stops once the kills are done
            traffic_end = deadline - 5  # hard stop for every client loop
            visitors = [Visitor(f"web{i}", ledger, desk, rng) for i in range(n_visitors)]
            senders = [SmtpSender(f"mail{i}", ledger, desk, rng) for i in range(n_smtp)]
            tasks = [asyncio.create_task(v.run(generating, traffic_end, per_client)) for v in visitors]
            tasks += [asyncio.create_task(s.run(generating, traffic_end, per_client)) for s in senders]
            tasks += [asyncio.create_task(TelegramUser(f"tg{i}", 7_000_001 + i, ledger, api, rng).run(
                generating, traffic_end, per_client)) for i in range(n_telegram)]
            tasks.append(asyncio.create_task(operator(ledger, desk, generating, rng)))
            done_kills = 0
            lo, hi = (0.3, 1.2) if quick else (0.5, 2.5)
            kill_window_end = deadline - (12 if quick else 40)
            while done_kills < kills and time.monotonic() < kill_window_end:
                await asyncio.sleep(rng.uniform(lo, hi))
                desk.kill()
                done_kills += 1
                boot = await desk.start(timeout=max(5.0, min(60.0, deadline - time.monotonic())))
                if api is not None:
                    ledger.confirm_telegram(api.offsets)
                log(f"[{label}] kill {done_kills}/{kills}: restarted in {boot:.1f} s; sent {len(ledger.sent)}, "
                    f"acked {len(ledger.acked)}, replies {ledger.replies_posted}")
            await asyncio.sleep(rng.uniform(lo, hi))
            generating.clear()
            log(f"[{label}] traffic stops; draining unacknowledged messages")
            await asyncio.wait(tasks, timeout=max(1.0, traffic_end - time.monotonic()))
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if api is not None:
                await telegram_drained(ledger, api, until=traffic_end)
            await wait_outbox_drained(desk, until=deadline - 2)
            desk.stop()
            confirmed = ledger.confirm_telegram(api.offsets) if api is not None else 0
            rows = await read_db(desk)
            result = verdict(ledger, rows, done_kills)
            if api is not None:
                result["telegram"] = {
                    "updates_sent": len(ledger.telegram_updates),
                    "updates_confirmed": sum(1 for u in ledger.telegram_updates if u < confirmed),
                    "getupdates_calls": len(api.offsets), "bot_messages_sent": len(api.sent),
                    "unexpected_requests": api.unexpected[:10]}
            if done_kills < kills:
                result["note"] = f"only {done_kills} of {kills} kills fitted in the time budget"
            result["logs"] = None
            if failed(result) or result["sent"] > result["acknowledged"]:
                keep = Path(tempfile.mkdtemp(prefix=f"helpline-chaos-{label}-kept-"))
                for f in Path(tmp).glob("server-*.log"):
                    (keep / f.name).write_bytes(f.read_bytes())
                result["logs"] = str(keep)
            return result
        finally:
            desk.kill()
            if api is not None:
                await api.stop()
            if pg_name:
                with contextlib.suppress(Exception):
                    await pg_recreate(database_url, pg_name, drop_only=True)


async def wait_outbox_drained(desk: Desk, until: float) -> None:
    """Let the delivery worker finish: bounded by `until`; the verdict reports what is left."""
    while time.monotonic() < until:
        try:
            rows = await read_db_outbox(desk)
        except Exception:  # noqa: BLE001 - a busy SQLite file: look again
            rows = None
        if rows is not None and not any(status in ("pending", "sending") for status, _ in rows):
            return
        await asyncio.sleep(0.3)


async def read_db_outbox(desk: Desk) -> list:
    if desk.database_url.startswith("postgresql"):
        import asyncpg
        conn = await asyncpg.connect(pg_admin_dsn(desk.database_url), timeout=5)
        try:
            return [tuple(r) for r in await conn.fetch(QUERIES["outbox"])]
        finally:
            await conn.close()
    path = next((desk.workdir / "data").glob("*.db"), None) or next((desk.workdir / "data").glob("*.sqlite*"))
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
    try:
        return conn.execute(QUERIES["outbox"]).fetchall()
    finally:
        conn.close()


COLUMNS = ["kills", "sent", "acknowledged", "stored", "lost", "duplicated", "outbound_queued", "outbound_delivered"]


def table(results: dict) -> str:
    lines = [f"{'database':<12}" + "".join(f"{c:>20}" for c in COLUMNS)]
    for name, r in results.items():
        lines.append(f"{name:<12}" + "".join(f"{r.get(c, '-')!s:>20}" for c in COLUMNS))
    return "\n".join(lines)


async def main_async(args) -> int:
    rng = random.Random(args.seed)
    targets = [("sqlite", "")]
    if args.database_url:
        targets.append(("postgresql", args.database_url))
    results, problems = {}, []
    for label, url in targets:
        try:
            r = await chaos_run(url, label, args.kills, args.quick, rng, args.time_budget, telegram=args.telegram)
        except Exception as e:  # noqa: BLE001 - report it as a failed run, then go on to the next database
            log(f"[{label}] harness error: {e!r}")
            r = {"error": repr(e)}
            problems.append(f"{label}: {e!r}")
        else:
            problems += [f"{label}: {w}" for w in failed(r)]
        results[label] = r
        log(f"[{label}] " + json.dumps({k: r.get(k) for k in COLUMNS + ['integrity', 'double_assigned']}))
    out = Path(args.out)
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print()
    print(table(results))
    print(f"\nwritten to {out}")
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        return 1
    print("OK: every acknowledged message stored exactly once; every queued reply sent")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n")[0])
    p.add_argument("--kills", type=int, default=None, help="SIGKILLs per database (default 20; 3 with --quick)")
    p.add_argument("--database-url", default="",
                   help="also run on this PostgreSQL (a private database <name>_chaos is created and dropped)")
    p.add_argument("--quick", action="store_true", help="few clients and kills, bounded to about 40 s")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--telegram", action=argparse.BooleanOptionalAction, default=None,
                   help="drive a Telegram bot through a fake Bot API (default: on, off with --quick: the bot's "
                        "start-up doubles the restart time)")
    p.add_argument("--time-budget", type=float, default=None, help="seconds per database (hard bound)")
    p.add_argument("--out", default=str(DEFAULT_OUT))
    args = p.parse_args(argv)
    if args.kills is None:
        args.kills = 3 if args.quick else 20
    if args.telegram is None:
        args.telegram = not args.quick
    if args.time_budget is None:
        # Loading the Telegram bot (aiogram) makes each restart take seconds longer.
        per_kill, least = (18.0, 150.0) if args.telegram else (12.0, 120.0)
        args.time_budget = 38.0 if args.quick else max(least, args.kills * per_kill)
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    log(f"chaos: {args.kills} kills per database, seed {args.seed}")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
