"""The feedback worker: sends due surveys, keeps segments fresh, mails scheduled digests (its passes).

All of its work is durable rows with due times (surveys, digest deliveries), so a restart loses
nothing; the bus only wakes it early. Each pass can be run by hand with an explicit `now` (tests).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.actions.context import Desk
from bot.actions.digest_mail import plan_deliveries, send_due_digests
from bot.actions.segments import recompute_segments
from bot.actions.surveys import schedule_missed, schedule_survey, send_due_surveys
from bot.events import TicketResolved
from bot.storage.models import utcnow
from bot.workers import PassLoop

logger = logging.getLogger(__name__)
POLL_SECONDS = 15.0


class FeedbackWorker:
    """One task per process; several processes share the rows safely (row locks, unique keys)."""

    def __init__(self, desk: Desk, public_url: str, *, passes: tuple = ()):
        self.desk = desk
        self.public_url = public_url
        self.passes = passes  # more periodic work: async callables taking (desk, now)
        # Surveys, segments and the digest: one desk process sends them; a pass every POLL_SECONDS.
        self._loop = PassLoop("feedback", lambda: self.run_once(), lambda _handled: POLL_SECONDS, singleton="feedback")

    async def on_ticket_resolved(self, event: TicketResolved) -> None:
        """Plan the survey at once; the worker sends it when due (at once when the delay is 0)."""
        if await schedule_survey(self.desk, event.ticket_id) is not None:
            self._loop.wake()

    async def start(self) -> None:
        self.desk.bus.subscribe(TicketResolved, self.on_ticket_resolved)
        self._loop.start(self.desk.sessions.kw["bind"])

    async def stop(self) -> None:
        self.desk.bus.unsubscribe(TicketResolved, self.on_ticket_resolved)
        await self._loop.stop()

    async def run_once(self, now: datetime | None = None) -> int:
        """One pass: plan missed surveys, send due ones, then the other periodic work; returns surveys handled."""
        now = now or utcnow()
        await schedule_missed(self.desk, now)
        handled = await send_due_surveys(self.desk, self.public_url, now)
        for work in self.passes:
            try:
                await work(self.desk, now)
            except Exception:
                logger.exception("feedback pass %s failed", getattr(work, "__name__", work))
        return handled


class SegmentSweep:
    """Recompute every client's segment every `segments.recompute_hours` (dormancy comes with time alone)."""

    def __init__(self) -> None:
        self.last: datetime | None = None
        self.__name__ = "segment sweep"

    async def __call__(self, desk: Desk, now: datetime) -> None:
        every = timedelta(hours=desk.settings.feedback.segments.recompute_hours)
        if self.last is not None and now - self.last < every:
            return
        self.last = now
        changed = await recompute_segments(desk, now=now)
        if changed:
            logger.info("segments: %d client(s) changed segment", changed)


class DigestMail:
    """The digest email pass: plan the deliveries that are due, send the pending ones."""

    __name__ = "digest mail"

    def __init__(self, public_url: str):
        self.public_url = public_url

    async def __call__(self, desk: Desk, now: datetime) -> None:
        if not desk.settings.feedback.digest.email.enabled:
            return
        await plan_deliveries(desk, now)
        await send_due_digests(desk, self.public_url, now)
