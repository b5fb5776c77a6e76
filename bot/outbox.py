"""Durable delivery of everything the desk sends, with retries and back-off.

A reply and its outbox row are committed together. This worker claims due rows (the writes live in
bot/actions/outbox.py), sends each through its channel's adapter and records the outcome; a crash
leaves the lease to expire and the row is sent again (at least once).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timezone

from bot.actions.context import Desk
from bot.actions.outbox import claim_due, next_attempt_at, outbound_of, record_failure, record_sent, retry_delay
from bot.errors import DeliveryError
from bot.events import MessageQueued
from bot.storage.models import utcnow
from bot.workers import cancel_task, wait_for_wake
from channels.base import ChannelAdapter

__all__ = ["DeliveryWorker", "retry_delay"]
logger = logging.getLogger(__name__)
BATCH = 50
IDLE_POLL_SECONDS = 5.0


class DeliveryWorker:
    """Takes due outbox rows and sends them through their channel's adapter."""

    def __init__(self, desk: Desk, adapters: dict[str, ChannelAdapter]):
        self.desk = desk
        self.adapters = adapters
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        desk.bus.subscribe(MessageQueued, self._on_message_queued, everywhere=True)

    async def _on_message_queued(self, _event) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox")

    async def stop(self) -> None:
        self.desk.bus.unsubscribe(MessageQueued, self._on_message_queued)
        await cancel_task(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                sent = await self.run_once()
            except Exception:
                logger.exception("outbox pass failed; retrying shortly")
                sent = 0
            if sent:
                continue
            await wait_for_wake(self._wake, await self._idle_seconds())

    async def _idle_seconds(self) -> float:
        """Until the next retry is due (a channel's retry_after is honoured to the moment), at most the idle poll."""
        try:
            due = await next_attempt_at(self.desk)
        except Exception:
            return IDLE_POLL_SECONDS
        if due is None:
            return IDLE_POLL_SECONDS
        if due.tzinfo is None:
            due = due.replace(tzinfo=timezone.utc)
        return min(IDLE_POLL_SECONDS, max(0.01, (due - utcnow()).total_seconds()))

    async def run_once(self) -> int:
        """Claim and send one batch of due items; returns how many were attempted."""
        ids = await claim_due(self.desk, BATCH)
        for item_id in ids:
            await self._deliver(item_id)
        return len(ids)

    async def _deliver(self, item_id: int) -> None:
        channel, outbound = await outbound_of(self.desk, item_id)
        adapter = self.adapters.get(channel)
        try:
            if adapter is None:
                raise DeliveryError(f"channel {channel!r} is not configured", permanent=True)
            external_id = await adapter.send(outbound)
        except DeliveryError as exc:
            await record_failure(self.desk, item_id, str(exc), exc.permanent, exc.retry_after)
        except Exception as exc:  # an adapter bug or a network error: retry, and log it for the admin
            logger.exception("sending outbox item %s through %s failed", item_id, channel)
            await record_failure(self.desk, item_id, f"{type(exc).__name__}: {exc}", False, None)
        else:
            await record_sent(self.desk, item_id, external_id)
