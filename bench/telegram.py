"""Telegram updates/s through the desk, beside a bare aiogram 3 echo bot on the same fake Bot API server.

    python -m bench.telegram [--quick] [--database-url URL]

The fake Bot API server (tests/fakes/telegram_api.py) runs in this process and holds a stream of
text messages, each from a new private chat. Desk side: `helpline run` with its Telegram channel
pointed at the fake server polls them, with the bot on; the run ends when every update is
confirmed (the desk confirms an update only after it is committed) and the bot's answer to every
chat is queued (an outbox row, read from the desk's database; the outbox worker sends it later,
within Telegram's rate limits, so sending is not timed). Anchor: a bare aiogram echo bot
(Dispatcher, one message handler answering with sendMessage, default polling) in its own process;
its run ends when every chat got its echo. Both are timed from the moment the updates are handed
to the fake server, with the bot already polling. The echo bot and the SQLite desk start together
(aiogram's import alone takes seconds in each); the echo bot is timed while the desk polls idle,
then killed before the desk is timed.

    python -m bench.telegram --echo-bot URL   (internal: the anchor's process)
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.deskproc import ROOT, BenchDesk, figure, free_port, print_figures, stop_process
from bench.figures import cpu_seconds, wait_quiet
from tests.fakes.telegram_api import TOKEN, FakeBotAPI
from tests.fakes.telegram_updates import TelegramUser

TARGET = 0.5
# Tickets with the bot's answer queued: the bot writes two or three replies a ticket (welcome, answer,
# question or hand-off) in one transaction, so outbox rows are not tickets.
QUEUED = ("SELECT COUNT(DISTINCT m.ticket_id) FROM outbox o JOIN messages m ON m.id = o.message_id "
          "WHERE o.channel = 'telegram'")
UNSENT = "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL"


class CountingBotAPI(FakeBotAPI):
    """The fake server, counting the chats answered (so the benchmark need not scan ``sent``)."""

    def __init__(self):
        super().__init__()
        self.answered_chats: set[str] = set()
        self.expected = 0
        self.users = 0  # chats used so far: every run writes from new ones
        self.all_answered = asyncio.Event()

    async def _m_sendMessage(self, params: dict) -> dict:
        message = await super()._m_sendMessage(params)
        self.answered_chats.add(str(params.get("chat_id")))
        if self.expected and len(self.answered_chats) >= self.expected:
            self.all_answered.set()
        return message

    def confirmed_below(self) -> int:
        """The highest offset the bot has sent: every update below it is confirmed."""
        return max((o for o in self.offsets if o is not None), default=0)


def stream(n: int, first: int) -> list[dict]:
    """n first messages, each from a new private chat (users first, first + 1, ...)."""
    updates = []
    for i in range(first, first + n):
        user = TelegramUser(id=7_000_000_000 + i, first_name=f"Client{i}", last_name="Bench", language_code="en")
        updates.append(user.text(f"Hello, where is my parcel NW-{i:06d}? It has not arrived."))
    return updates


async def _polling(fake: CountingBotAPI, timeout: float = 90.0) -> None:
    await fake.wait_until(lambda: "getUpdates" in fake.calls, timeout, "the first getUpdates")


async def _run_stream(fake: CountingBotAPI, n: int, desk: BenchDesk | None, timeout: float) -> float:
    """Push n updates; seconds until each is confirmed with its answer queued (desk) or answered (echo bot)."""
    fake.answered_chats.clear()
    fake.all_answered.clear()
    fake.expected = n
    queued_before = await desk.count(QUEUED) if desk else 0
    cpu_before = cpu_seconds(desk.proc.pid) if desk else 0.0
    start = time.perf_counter()
    ids = fake.push(*stream(n, fake.users))
    fake.users += n
    last = ids[-1]
    if desk is None:
        await asyncio.wait_for(fake.all_answered.wait(), timeout)
        return time.perf_counter() - start
    await fake.wait_until(lambda: fake.confirmed_below() > last, timeout, "every update confirmed")
    confirmed = time.perf_counter() - start
    deadline = start + timeout
    while await desk.count(QUEUED) < queued_before + n:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the desk queued fewer than {n} answers within {timeout} s: {desk.log_tail()}")
        await asyncio.sleep(0.02)  # the answers are rows in the desk's database: read until they are all there
    seconds = time.perf_counter() - start
    cpu_ms = (cpu_seconds(desk.proc.pid) - cpu_before) * 1000 / n
    print(f"telegram:   {n} updates committed and confirmed after {confirmed:.1f} s, answers queued after "
          f"{seconds:.1f} s; desk CPU {cpu_ms:.2f} ms per update", file=sys.stderr)
    await _wait_sent(desk, start, deadline)
    return seconds


async def _wait_sent(desk: BenchDesk, start: float, deadline: float) -> None:
    """Untimed: until the outbox worker has sent every queued answer (the bench's limits are far above
    Telegram's, so this is how fast the desk sends), so no run leaves sending to the next."""
    while (unsent := await desk.count(UNSENT)) and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    print(f"telegram:   every queued answer sent after {time.perf_counter() - start:.1f} s" if not unsent else
          f"telegram:   {unsent} answers still unsent after {time.perf_counter() - start:.1f} s", file=sys.stderr)


def desk_config(url: str) -> str:
    return f"""
[channels.webchat]
enabled = false

[channels.telegram]
token = "{TOKEN}"
api_server = "{url}"
polling_timeout = 2
messages_per_second = 100000.0
chat_messages_per_second = 100.0

[bot]
enabled = true
"""


async def measure_desk(n: int, database_url: str | None, before=None) -> float:
    """Updates/s through a `helpline run` polling its own fake server. ``before()``: awaited once the desk
    polls and is quiet, before it is timed (the anchor's turn, so both start-ups overlap)."""
    fake = CountingBotAPI()
    url = await fake.start(free_port())
    try:
        with tempfile.TemporaryDirectory() as tmp:
            desk = BenchDesk(Path(tmp), database_url or "", "telegram", desk_config(url))
            try:
                await desk.start()
                await _polling(fake)
                if before is not None:
                    await wait_quiet(desk.proc.pid)
                    await before()
                await _run_stream(fake, 20, desk, 60)  # warm-up: first tickets, imports, the outbox worker
                seconds = await _run_stream(fake, n, desk, 180)
            finally:
                await desk.stop()
            if not database_url:
                _print_phases(Path(tmp) / "data", n)
        fake.check()
    finally:
        await fake.stop()
    return n / seconds


def _print_phases(data_dir: Path, n: int) -> None:
    """Where the time went, from the stopped desk's SQLite rows: client messages stored, tickets' answers queued, sent."""
    found = sorted(data_dir.glob("*.db"))
    if not found:
        return
    conn = sqlite3.connect(found[0])
    try:
        spans = {}
        by_ticket = "FROM outbox o JOIN messages m ON m.id = o.message_id GROUP BY m.ticket_id"
        for name, sql in (("client messages stored", "SELECT created_at FROM messages WHERE direction = 'in'"),
                          ("tickets' answers queued", f"SELECT MAX(o.created_at) {by_ticket}"),
                          ("tickets' answers all sent", f"SELECT MAX(o.sent_at) {by_ticket} "
                                                        "HAVING COUNT(o.sent_at) = COUNT(*)")):
            times = sorted(datetime.fromisoformat(str(r[0])) for r in conn.execute(sql).fetchall()[-n:])
            spans[name] = times
    finally:
        conn.close()
    start = spans["client messages stored"][0] if spans["client messages stored"] else None
    for name, times in spans.items():
        if times and start:
            print(f"telegram:   {len(times)} {name} by {(times[-1] - start).total_seconds():.1f} s after the first "
                  f"was stored", file=sys.stderr)


class EchoBot:
    """The anchor's process and its own fake server; `start` returns at once (aiogram imports for seconds)."""

    def __init__(self) -> None:
        self.fake = CountingBotAPI()
        self.proc: subprocess.Popen | None = None

    async def start(self) -> None:
        url = await self.fake.start(free_port())
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.telegram", "--echo-bot", url], cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    async def measure(self, n: int) -> float:
        await _polling(self.fake)
        await _run_stream(self.fake, 20, None, 60)
        seconds = await _run_stream(self.fake, n, None, 180)
        return n / seconds

    async def stop(self) -> None:
        await asyncio.to_thread(stop_process, self.proc)
        await self.fake.stop()


def echo_bot(url: str) -> None:
    """The anchor: the smallest aiogram 3 bot that answers every message, polling ``url``."""
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message

    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))
    asyncio.run(dp.start_polling(bot, polling_timeout=2))


async def _measure(quick: bool, database_url: str | None) -> list[dict]:
    n = 200 if quick else 1000
    anchor_name = "bare aiogram 3 echo bot (Dispatcher + one handler, default polling), same fake Bot API server"
    echo = EchoBot()
    anchor = None

    async def echo_turn() -> None:
        """The anchor, timed while the SQLite desk (started beside it) sits idle; then it is gone."""
        nonlocal anchor
        try:
            print(f"telegram: bare aiogram echo bot, {n} updates...", file=sys.stderr)
            anchor = await echo.measure(n)
        finally:
            await echo.stop()

    figures = []
    await echo.start()
    try:
        for label, url in [("SQLite", None)] + ([("PostgreSQL", database_url)] if database_url else []):
            print(f"telegram: the desk on {label}, {n} updates...", file=sys.stderr)
            rate = await measure_desk(n, url, echo_turn if anchor is None else None)
            figures.append(figure(f"Telegram updates/s into tickets with the bot's answer queued ({label}, polling)",
                                  rate, "updates/s", anchor_name, anchor, TARGET))
    finally:
        await echo.stop()
    return figures


def measure(quick: bool, database_url: str | None) -> list[dict]:
    """The Telegram figures (SQLite, and PostgreSQL when a URL is given) beside a bare aiogram echo bot."""
    return asyncio.run(_measure(quick, database_url))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.telegram", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer updates (about 15 s)")
    parser.add_argument("--database-url", default=os.environ.get("HELPLINE_BENCH_DATABASE_URL", ""),
                        help="also measure on this PostgreSQL (a private <name>_bench_telegram database is used)")
    parser.add_argument("--echo-bot", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_bot:
        echo_bot(args.echo_bot)
        return 0
    print_figures(measure(args.quick, args.database_url or None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
