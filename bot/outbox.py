"""Durable delivery of everything the desk sends, with retries and back-off.

A reply and its outbox row are committed together. This worker claims due rows under a lease (the
writes live in bot/actions/outbox.py), sends through the channels' adapters and records outcomes in
groups; a crash leaves the lease to expire and the rows are sent again (at least once). Chats are
sent to side by side, each at its own pace; one chat's rows go strictly one after another, and a row
that must be retried holds back the chat's later rows.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import timezone

from bot.actions.context import Desk
from bot.actions.outbox import (Attempt, claim_due, next_attempt_at, outbound_of, record_attempts, release_claims,
                                retry_delay)
from bot.domain import OutboundMessage
from bot.errors import DeliveryError
from bot.events import MessageQueued
from bot.storage.models import utcnow
from bot.storage.outbound import thread_continued
from bot.workers import PassLoop, cancel_task
from channels.base import ChannelAdapter

__all__ = ["DeliveryWorker", "retry_delay"]
logger = logging.getLogger(__name__)
BATCH = 100  # rows taken by one claim
IN_FLIGHT = 200  # rows claimed and not yet recorded, at most (each holds a lease)
SENDS_AT_ONCE = 64  # adapter.send calls at once (Telegram's pacing waits inside send)
IDLE_POLL_SECONDS = 5.0
STOP_GRACE_SECONDS = 5.0  # how long stop() lets the sends under way finish and be recorded
HELD_POLL_SECONDS = 0.25  # rows are due but wait behind rows another process is sending
HELD_BACK = "waiting for an earlier message to this chat to go first"


class DeliveryWorker:
    """Takes due outbox rows and sends them through their channel's adapter.

    The loop only claims; every chat with claimed rows has one task that sends them in order, so a
    chat paced by its channel (Telegram: a message a second) never holds back other chats. A chat's
    task records its outcomes (grouped with whatever other chats finished meanwhile) before the chat
    is let go, and the claim takes a ticket's later rows only once the earlier ones are recorded.
    """

    def __init__(self, desk: Desk, adapters: dict[str, ChannelAdapter]):
        self.desk = desk
        self.adapters = adapters
        self._loop = PassLoop("outbox", self._claim, self._pause)
        self._chats: dict[tuple[str, str], asyncio.Task] = {}
        self._queued: dict[tuple[str, str], deque] = {}  # chat -> claimed rows its task has not taken yet
        self._in_flight = 0
        self._stopping = False
        self._sends = asyncio.Semaphore(SENDS_AT_ONCE)
        self._recorder = Recorder(desk)
        desk.bus.subscribe(MessageQueued, self._on_message_queued, everywhere=True)

    async def _on_message_queued(self, _event) -> None:
        self._loop.wake()

    async def start(self) -> None:
        self._stopping = False
        self._loop.start()

    async def stop(self) -> None:
        """Stop claiming; the chats' sends under way finish and are recorded, their untried rows are given
        back. A send still going after the grace is cut off: that row goes again after its lease."""
        self.desk.bus.unsubscribe(MessageQueued, self._on_message_queued)
        await self._loop.stop()
        self._stopping = True
        if self._chats:
            _, late = await asyncio.wait(list(self._chats.values()), timeout=STOP_GRACE_SECONDS)
            for task in late:
                await cancel_task(task)

    async def run_once(self) -> int:
        """Claim due rows and send them; returns how many were claimed, once their outcomes are recorded."""
        claimed = await self._claim()
        while self._chats:
            await asyncio.gather(*self._chats.values())
        return claimed

    async def _pause(self, claimed: int | None) -> float:
        """At once after a claim; otherwise until the next retry is due (a channel's retry_after is
        honoured to the moment), at most the idle poll. A chat's task wakes the loop when it lets go."""
        if claimed:
            return 0
        if claimed is not None and self._in_flight >= IN_FLIGHT:
            return IDLE_POLL_SECONDS
        try:
            due = await next_attempt_at(self.desk)
        except Exception:
            return IDLE_POLL_SECONDS
        if due is None:
            return IDLE_POLL_SECONDS
        if due.tzinfo is None:
            due = due.replace(tzinfo=timezone.utc)
        wait = (due - utcnow()).total_seconds()
        # Due yet not claimed: behind rows being sent (ours wake the loop when recorded) or locked elsewhere.
        return min(IDLE_POLL_SECONDS, wait if wait > 0 else HELD_POLL_SECONDS)

    async def _claim(self) -> int:
        """Claim what is due (as far as the lease budget goes) and hand the rows to their chats' tasks."""
        room = IN_FLIGHT - self._in_flight
        if room <= 0:
            return 0
        ids = await claim_due(self.desk, min(BATCH, room))
        if not ids:
            return 0
        for item_id, channel, outbound in await outbound_of(self.desk, ids):  # rows erased meanwhile are left out
            self._in_flight += 1
            chat = (channel, (outbound.chat_id or outbound.ticket_public_id) if outbound else f"item:{item_id}")
            self._queued.setdefault(chat, deque()).append((item_id, channel, outbound))
            if chat not in self._chats:
                self._chats[chat] = asyncio.get_running_loop().create_task(self._send_chat(chat), name=f"outbox {chat}")
        return len(ids)

    async def _send_chat(self, chat: tuple[str, str]) -> None:
        """One chat's rows in order, recorded before the chat is let go; after a failure worth retrying
        the rest wait behind it."""
        queued = self._queued[chat]
        sent: list[tuple[OutboundMessage, str]] = []
        held_by = None
        try:
            while queued and not self._stopping:
                attempts: list[Attempt] = []
                while queued and not self._stopping:
                    item_id, channel, outbound = queued.popleft()
                    if held_by is not None:
                        attempts.append(Attempt(item_id, error=HELD_BACK, behind=held_by))
                        continue
                    for earlier, platform_id in sent:  # threading channels name what went just before
                        outbound = thread_continued(outbound, earlier, platform_id)
                    async with self._sends:
                        attempt = await self._deliver(item_id, channel, outbound)
                    attempts.append(attempt)
                    if attempt.sent:
                        sent.append((outbound, attempt.external_id))
                    elif not attempt.permanent:
                        held_by = item_id
                try:
                    await self._recorder.record(attempts)
                except Exception:  # the rows keep their leases and go again after them: at least once
                    logger.exception("recording %d outbox outcomes failed", len(attempts))
                finally:
                    self._in_flight -= len(attempts)
            if queued:  # the worker is stopping: what was never tried is due again at once, not after its lease
                await release_claims(self.desk, [item_id for item_id, _, _ in queued])
        except Exception:  # a bug here must not end the worker: the rows go again after their leases
            logger.exception("sending to %s failed", chat)
        finally:
            # No await between the last look at the queue and letting the chat go: no claimed row is left behind.
            del self._chats[chat], self._queued[chat]
            self._in_flight -= len(queued)
            self._loop.wake()

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


class Recorder:
    """Records outcomes in groups: whatever chats finished while one write ran go together in the next."""

    def __init__(self, desk: Desk):
        self.desk = desk
        self._waiting: list[tuple[list[Attempt], asyncio.Future]] = []
        self._writing = asyncio.Lock()

    async def record(self, attempts: list[Attempt]) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((attempts, done))
        async with self._writing:
            if not done.done():
                group, self._waiting = self._waiting, []
                try:
                    await record_attempts(self.desk, [a for chat, _ in group for a in chat])
                except Exception as exc:
                    for _, waiter in group:
                        waiter.set_exception(exc)
                else:
                    for _, waiter in group:
                        waiter.set_result(None)
        await done
