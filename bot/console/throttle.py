"""Slow down password guessing: too many failed logins per username and address lock that pair out a while."""
from __future__ import annotations

import time
from collections import deque
from typing import Callable

from aiohttp import web

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
MAX_KEYS = 50_000  # bounds memory under a spray of random usernames


class LoginThrottle:
    """Counts recent failures per key in memory; each process keeps its own count."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    @staticmethod
    def key(username: str, address: str) -> str:
        return f"{username.strip().lower()}\n{address}"

    def _recent(self, key: str) -> deque[float]:
        times = self._failures.get(key, deque())
        cutoff = self.clock() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times

    def blocked(self, key: str) -> bool:
        return len(self._recent(key)) >= self.max_failures

    def failed(self, key: str) -> None:
        if key not in self._failures and len(self._failures) >= MAX_KEYS:
            self._prune()
        self._failures.setdefault(key, deque()).append(self.clock())

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def _prune(self) -> None:
        for key in list(self._failures):
            self._recent(key)
        while len(self._failures) >= MAX_KEYS:
            self._failures.pop(next(iter(self._failures)))


THROTTLE = web.AppKey("console_login_throttle", LoginThrottle)
