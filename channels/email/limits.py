"""A per-sender sliding-window limit: a mail storm (a loop, a flood) is slowed, other senders are not."""
from __future__ import annotations

import time
from collections import deque
from typing import Callable


class SenderLimit:
    """At most ``count`` mails per sender in ``window`` seconds."""

    def __init__(self, count: int, window: float = 3600.0, clock: Callable[[], float] = time.monotonic,
                 max_senders: int = 50_000):
        self.count, self.window, self.clock, self.max_senders = count, window, clock, max_senders
        self._seen: dict[str, deque[float]] = {}

    def allow(self, sender: str) -> bool:
        """Count one mail from ``sender``; False when it is over the limit (and then it is not counted)."""
        now = self.clock()
        times = self._seen.setdefault(sender, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) >= self.count:
            return False
        times.append(now)
        if len(self._seen) > self.max_senders:
            self._prune(now)
        return True

    def _prune(self, now: float) -> None:
        for sender in [s for s, t in self._seen.items() if not t or now - t[-1] >= self.window]:
            del self._seen[sender]
