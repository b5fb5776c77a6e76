"""In-process limits: messages per visitor per minute and open sockets per address.

They protect one process; several processes behind a balancer each count their own share. The
clock is injectable so tests never sleep.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Callable

SWEEP_EVERY = 1024  # calls between sweeps of keys that have gone quiet


class RateLimiter:
    """At most ``limit`` events in any ``window`` seconds per key (a sliding log, exact at the edges)."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._log: dict[str, deque[float]] = {}
        self._calls = 0

    def acquire(self, key: str) -> float:
        """Count one event; returns 0 when allowed, else the seconds until the next one would be."""
        now = self.clock()
        self._calls += 1
        if self._calls % SWEEP_EVERY == 0:
            self._sweep(now)
        log = self._log.setdefault(key, deque())
        while log and log[0] <= now - self.window:
            log.popleft()
        if len(log) >= self.limit:
            return max(0.001, log[0] + self.window - now)
        log.append(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        for key in [k for k, log in self._log.items() if not log or log[-1] <= now - self.window]:
            del self._log[key]


class ConnectionCounter:
    """Open connections per address, so one address cannot hold every socket of the process."""

    def __init__(self, limit: int):
        self.limit = limit
        self._open: dict[str, int] = {}

    def acquire(self, address: str) -> bool:
        """Take a slot; False (and nothing taken) when the address is at its limit."""
        count = self._open.get(address, 0)
        if count >= self.limit:
            return False
        self._open[address] = count + 1
        return True

    def release(self, address: str) -> None:
        count = self._open.get(address, 0) - 1
        if count > 0:
            self._open[address] = count
        else:
            self._open.pop(address, None)

    def count(self, address: str) -> int:
        return self._open.get(address, 0)
