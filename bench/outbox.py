"""The outbox under Telegram's real limits: messages/s sent against the 30/s Telegram allows a bot.

    python -m bench.outbox [--quick]

N chats (60) each have three operator replies queued; the outbox worker sends them through the
real Telegram adapter (aiogram) to the fake Bot API server (tests/fakes) on loopback, paced by the
adapter's SendLimiter at Telegram's own limits: one message a second to a chat, 30 a second in all.
The best possible is 30 messages/s (the anchor); a chat with several replies must not hold back
the others. Timed from the worker's start to the last message answered by the fake server.
"""
from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.deskproc import figure, free_port, print_figures
from bot.actions.context import Desk
from bot.actions.inbox import receive_message
from bot.actions.operators import create_operator, log_in
from bot.actions.setup import sync_queues
from bot.actions.tickets import reply_to_ticket
from bot.config import parse_settings
from bot.domain import InboundMessage
from bot.events import EventBus
from bot.storage.engine import create_engine, session_factory
from bot.storage.files import AttachmentStore
from bot.storage.migrate import upgrade
from tests.fakes.telegram_api import TOKEN, FakeBotAPI

ALLOWED = 30.0  # Telegram's messages a second for one bot
TARGET = 0.8


async def _queue(desk: Desk, chats: int, replies: int) -> None:
    await create_operator(desk, "anna", "Anna", "bench-password", "operator", ["general"], ["en"])
    _, viewer = await log_in(desk, "anna", "bench-password")
    for i in range(chats):
        chat = str(7_100_000_000 + i)
        receipt = await receive_message(desk, InboundMessage(
            channel="telegram", user_id=chat, chat_id=chat, message_id=f"{chat}:1", text="Where is my parcel?",
            sent_at=datetime.now(timezone.utc)))
        for n in range(replies):
            await reply_to_ticket(desk, viewer, receipt.ticket_id, f"Answer {n + 1} to chat {i}")


async def _measure(chats: int, replies: int) -> tuple[float, float]:
    """(messages/s, seconds until the last was sent) on a fresh SQLite desk."""
    from bot.app import build_adapters
    from bot.gateway import DeskGateway
    from bot.outbox import DeliveryWorker

    fake = FakeBotAPI()
    url = await fake.start(free_port())
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite+aiosqlite:///{tmp}/helpline.db"
        settings = parse_settings({
            "desk": {"data_dir": tmp, "database_url": db},
            "web": {"secret_key": "bench-secret-key-0123456789-abcdefghijkl"},
            "channels": {"webchat": {"enabled": False},
                         "telegram": {"token": TOKEN, "api_server": url,
                                      "chat_messages_per_second": 1.0, "messages_per_second": ALLOWED}}}, "bench")
        engine = create_engine(db)
        worker = None
        try:
            await upgrade(engine)
            desk = Desk(session_factory(engine), EventBus(), settings, AttachmentStore(Path(tmp) / "att", 10**7, ()))
            await sync_queues(desk)
            await _queue(desk, chats, replies)
            adapters = build_adapters(settings, DeskGateway(desk))
            total = chats * replies
            worker = DeliveryWorker(desk, adapters)
            start = time.perf_counter()
            await worker.start()
            await fake.wait_until(lambda: len(fake.sent) >= total, 120, f"{total} messages sent")
            seconds = time.perf_counter() - start
        finally:
            if worker is not None:
                await worker.stop()
                for adapter in adapters.values():
                    await adapter.stop()
            await engine.dispose()
            await fake.stop()
    return total / seconds, seconds


def measure(quick: bool, database_url: str | None) -> list[dict]:
    """The outbox figure (bench/results.json shape): messages/s within Telegram's limits, against the allowance."""
    chats, replies = (60, 3)
    rate, seconds = asyncio.run(_measure(chats, replies))
    print(f"outbox:     {chats * replies} messages to {chats} chats sent in {seconds:.1f} s ({rate:.1f}/s)",
          file=sys.stderr)
    return [figure(f"outbox: Telegram messages sent ({chats} chats x {replies} queued replies, Telegram's limits)",
                   rate, "messages/s", "Telegram's allowance for one bot", ALLOWED, TARGET)]


if __name__ == "__main__":
    print_figures(measure("--quick" in sys.argv, None))
