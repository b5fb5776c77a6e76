"""The send limiter and back-off, on a fake clock."""
from __future__ import annotations

import random

from channels.telegram.limits import Backoff, SendLimiter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_one_message_a_second_per_chat():
    clock = Clock()
    limiter = SendLimiter(1.0, 30, 20, clock=clock)
    assert limiter.delay("1") == 0
    limiter.sent("1")
    assert limiter.delay("1") == 1.0 and limiter.delay("2") == 0
    clock.now += 0.4
    assert abs(limiter.delay("1") - 0.6) < 1e-9
    clock.now += 0.6
    assert limiter.delay("1") == 0


def test_thirty_a_second_per_bot():
    clock = Clock()
    limiter = SendLimiter(1.0, 30, 20, clock=clock)
    for chat in range(30):
        assert limiter.delay(str(chat)) == 0
        limiter.sent(str(chat))
        clock.now += 0.01
    assert abs(limiter.delay("99") - (1.0 - 0.30)) < 1e-9  # the 31st waits for the first to leave the window


def test_twenty_a_minute_per_group():
    clock = Clock()
    limiter = SendLimiter(100.0, 1000, 20, clock=clock)
    for _ in range(20):
        assert limiter.delay("-100123") == 0
        limiter.sent("-100123")
        clock.now += 1.0
    assert abs(limiter.delay("-100123") - 40.0) < 1e-9
    assert limiter.delay("555") == 0  # private chats have no per-minute window


def test_retry_after_blocks_the_chat():
    clock = Clock()
    limiter = SendLimiter(1.0, 30, 20, clock=clock)
    limiter.block("1", 7)
    assert limiter.delay("1") == 7 and limiter.delay("2") == 0
    clock.now += 7
    assert limiter.delay("1") == 0


def test_old_chats_are_forgotten():
    clock = Clock()
    limiter = SendLimiter(1.0, 1000, 20, clock=clock, max_chats=10)
    for chat in range(10):
        limiter.sent(str(chat))
    clock.now += 120
    limiter.sent("new")
    assert set(limiter._last) == {"new"}


def test_backoff_grows_to_a_ceiling_and_resets():
    backoff = Backoff(1.0, 8.0, random.Random(1))
    delays = [backoff.next() for _ in range(6)]
    assert all(0.8 * b <= d <= 1.2 * b for d, b in zip(delays, [1, 2, 4, 8, 8, 8]))
    backoff.reset()
    assert backoff.next() <= 1.2


async def test_chats_sent_to_at_once_stay_within_the_bots_limit(monkeypatch):
    """The outbox sends to many chats concurrently: those that waited for the same free moment must not all go
    at it together (25 chats at 10 messages a second: never more than 10 in any second)."""
    import asyncio

    from bot.domain import OutboundMessage
    from channels.telegram import sender as sender_module

    clock, real_sleep, sent_at = Clock(), asyncio.sleep, []

    async def sleep(seconds):  # everyone sleeping wakes when the latest of them is due
        wake = clock.now + seconds
        await real_sleep(0)
        clock.now = max(clock.now, wake)

    class API:
        async def send_text(self, chat_id, text, keyboard=None):
            sent_at.append(clock.now)
            await real_sleep(0)
            return len(sent_at)

    monkeypatch.setattr(sender_module.asyncio, "sleep", sleep)
    sender = sender_module.Sender("telegram", API(), None, SendLimiter(1.0, 10, 20, clock=clock))
    await asyncio.gather(*(sender.send(OutboundMessage("telegram", str(chat), "hello", chat, f"t{chat}"))
                           for chat in range(25)))
    assert len(sent_at) == 25
    assert all(later - earlier >= 1.0 for earlier, later in zip(sent_at, sent_at[10:]))
