"""Send pacing within Telegram's limits, and back-off for retries (pure: the clock is passed in).

Telegram's FAQ asks bots for at most about one message a second to one chat, 30 a second in
all, and 20 a minute to one group; beyond that it answers 429 with retry_after.
"""
from __future__ import annotations

import random
import time
from collections import deque
from typing import Callable


class SendLimiter:
    """When the next message to a chat may go: per chat, per group (negative chat ids) and per bot."""

    def __init__(self, chat_per_second: float = 1.0, bot_per_second: float = 30.0, group_per_minute: float = 20.0,
                 clock: Callable[[], float] = time.monotonic, max_chats: int = 10_000):
        self.chat_interval = 1.0 / chat_per_second
        self.bot_window = (max(1, int(bot_per_second)), max(1, int(bot_per_second)) / bot_per_second)
        self.group_window = (max(1, int(group_per_minute)), 60.0 * max(1, int(group_per_minute)) / group_per_minute)
        self.clock = clock
        self.max_chats = max_chats
        self._last: dict[str, float] = {}  # chat -> time of its latest send
        self._blocked: dict[str, float] = {}  # chat -> time Telegram told us to wait until
        self._bot: deque[float] = deque()
        self._groups: dict[str, deque[float]] = {}

    @staticmethod
    def _window_wait(times: deque[float], size: int, span: float, now: float) -> float:
        while times and times[0] <= now - span:
            times.popleft()
        return 0.0 if len(times) < size else times[0] + span - now

    def delay(self, chat_id: str) -> float:
        """Seconds until a message to ``chat_id`` is within every limit (0 when it may go now)."""
        now = self.clock()
        waits = [self._blocked.get(chat_id, now) - now,
                 self._window_wait(self._bot, *self.bot_window, now)]
        if chat_id in self._last:
            waits.append(self._last[chat_id] + self.chat_interval - now)
        if chat_id.startswith("-"):
            waits.append(self._window_wait(self._groups.get(chat_id, deque()), *self.group_window, now))
        return max(0.0, *waits)

    def sent(self, chat_id: str) -> None:
        """Count a message that went to ``chat_id`` now."""
        now = self.clock()
        if len(self._last) >= self.max_chats:
            self._forget(now)
        self._last[chat_id] = now
        self._bot.append(now)
        if chat_id.startswith("-"):
            self._groups.setdefault(chat_id, deque()).append(now)

    def block(self, chat_id: str, seconds: float) -> None:
        """Telegram said to wait (429 retry_after): nothing goes to that chat before then."""
        self._blocked[chat_id] = max(self._blocked.get(chat_id, 0.0), self.clock() + seconds)

    def _forget(self, now: float) -> None:
        horizon = max(self.chat_interval, self.group_window[1])
        for table in (self._last, self._blocked):
            for chat in [c for c, t in table.items() if t < now - horizon]:
                del table[chat]
        for chat in [c for c, q in self._groups.items() if not q or q[-1] < now - horizon]:
            del self._groups[chat]


class Backoff:
    """Growing, jittered delays between retries: first, 2x, 4x ... up to ``ceiling``; reset on success."""

    def __init__(self, first: float = 1.0, ceiling: float = 60.0, rng: random.Random | None = None):
        self.first = first
        self.ceiling = ceiling
        self.failures = 0
        self.rng = rng or random.Random()

    def next(self) -> float:
        self.failures += 1
        base = min(self.ceiling, self.first * 2 ** (self.failures - 1))
        return base * (0.8 + 0.4 * self.rng.random())

    def reset(self) -> None:
        self.failures = 0
