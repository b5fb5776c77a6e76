"""Durable delivery of everything the desk sends, with retries and back-off.

A reply and its outbox row are committed together. This worker claims a batch of due rows (the
writes live in bot/actions/outbox.py), reads what to send in one go, sends through the channels'
adapters and records the batch's outcomes together; a crash leaves the lease to expire and the
rows are sent again (at least once). Different chats are sent to concurrently; one chat's rows go
strictly one after another, and a row that must be retried holds back the chat's later rows.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timezone

from bot.actions.context import Desk
from bot.actions.outbox import Attempt, claim_due, next_attempt_at, outbound_of, record_attempts, retry_delay
from bot.domain import OutboundMessage
from bot.errors import DeliveryError
from bot.events import MessageQueued
from bot.storage.models import utcnow
from bot.storage.outbound import thread_continued
from bot.workers import PassLoop
from channels.base import ChannelAdapter

__all__ = ["DeliveryWorker", "retry_delay"]
logger = logging.getLogger(__name__)
BATCH = 50
IDLE_POLL_SECONDS = 5.0
CONCURRENCY = 16  # chats sent to at once
HELD_BACK = "waiting for an earlier message to this chat to go first"


class DeliveryWorker:
    """Takes due outbox rows and sends them through their channel's adapter."""

    def __init__(self, desk: Desk, adapters: dict[str, ChannelAdapter]):
        self.desk = desk
        self.adapters = adapters
        self._loop = PassLoop("outbox", lambda: self.run_once(), self._pause)
        desk.bus.subscribe(MessageQueued, self._on_message_queued, everywhere=True)

    async def _on_message_queued(self, _event) -> None:
        self._loop.wake()

    async def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        self.desk.bus.unsubscribe(MessageQueued, self._on_message_queued)
        await self._loop.stop()

    async def _pause(self, sent: int | None) -> float:
        """At once after a batch; otherwise until the next retry is due (a channel's retry_after is
        honoured to the moment), at most the idle poll."""
        if sent:
            return 0
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
        if not ids:
            return 0
        chats: dict[tuple[str, str], list[tuple[int, str, OutboundMessage | None]]] = {}
        for item_id, channel, outbound in await outbound_of(self.desk, ids):
            chat = (outbound.chat_id or outbound.ticket_public_id) if outbound else f"item:{item_id}"
            chats.setdefault((channel, chat), []).append((item_id, channel, outbound))
        turns = asyncio.Semaphore(CONCURRENCY)
        outcomes = await asyncio.gather(*(self._send_chat(turns, rows) for rows in chats.values()))
        await record_attempts(self.desk, [attempt for chat in outcomes for attempt in chat])
        return len(ids)

    async def _send_chat(self, turns: asyncio.Semaphore, rows) -> list[Attempt]:
        """One chat's rows in order; after a failure worth retrying the rest wait behind it."""
        attempts: list[Attempt] = []
        sent: list[tuple[OutboundMessage, str]] = []
        held_by = None
        async with turns:
            for item_id, channel, outbound in rows:
                if held_by is not None:
                    attempts.append(Attempt(item_id, error=HELD_BACK, behind=held_by))
                    continue
                for earlier, platform_id in sent:  # threading channels name what went just before
                    outbound = thread_continued(outbound, earlier, platform_id)
                attempt = await self._deliver(item_id, channel, outbound)
                attempts.append(attempt)
                if attempt.sent:
                    sent.append((outbound, attempt.external_id))
                elif not attempt.permanent:
                    held_by = item_id
        return attempts

    async def _deliver(self, item_id: int, channel: str, outbound: OutboundMessage | None) -> Attempt:
        adapter = self.adapters.get(channel)
        try:
            if adapter is None:
                raise DeliveryError(f"channel {channel!r} is not configured", permanent=True)
            if outbound is None:
                raise DeliveryError("the message no longer exists", permanent=True)
            external_id = await adapter.send(outbound)
        except DeliveryError as exc:
            return Attempt(item_id, error=str(exc) or type(exc).__name__, permanent=exc.permanent,
                           retry_after=exc.retry_after)
        except Exception as exc:  # an adapter bug or a network error: retry, and log it for the admin
            logger.exception("sending outbox item %s through %s failed", item_id, channel)
            return Attempt(item_id, error=f"{type(exc).__name__}: {exc}")
        return Attempt(item_id, external_id=external_id or "")
