"""Durable delivery of everything the desk sends, with retries and back-off.

A reply and its outbox row are committed together. The worker claims due rows by moving them to
``sending`` with a lease; a crash leaves the lease to expire and the row is sent again (at least
once). On PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED`` so several processes share the work.
"""
from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta, timezone

from sqlalchemy import func, or_, select, update

from bot.actions.context import Desk, unit_of_work
from bot.errors import DeliveryError
from bot.events import DeliveryChanged, MessageQueued
from bot.storage.models import Message, OutboxItem, utcnow
from bot.storage.queries import outbound_message
from channels.base import ChannelAdapter
from bot.workers import cancel_task, wait_for_wake

logger = logging.getLogger(__name__)
BATCH = 50
IDLE_POLL_SECONDS = 5.0


def retry_delay(attempts: int, first: float, ceiling: float, rng: random.Random = random.Random()) -> float:
    """Exponential back-off with jitter: first, 2*first, 4*first ... capped at `ceiling`."""
    base = min(ceiling, first * (2 ** max(0, attempts - 1)))
    return base * (0.8 + 0.4 * rng.random())


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
            idle = await self._idle_seconds()
            await wait_for_wake(self._wake, idle)

    async def _idle_seconds(self) -> float:
        """Until the next retry is due (a channel's retry_after is honoured to the moment), at most the idle poll."""
        try:
            async with self.desk.sessions() as s:
                due = (await s.execute(select(func.min(OutboxItem.next_attempt_at))
                                       .where(OutboxItem.status.in_(("pending", "sending"))))).scalar_one_or_none()
        except Exception:
            return IDLE_POLL_SECONDS
        if due is None:
            return IDLE_POLL_SECONDS
        if due.tzinfo is None:
            due = due.replace(tzinfo=timezone.utc)
        return min(IDLE_POLL_SECONDS, max(0.01, (due - utcnow()).total_seconds()))

    async def _claim(self) -> list[int]:
        now = utcnow()
        lease = timedelta(seconds=self.desk.settings.outbox.lease_seconds)
        async with unit_of_work(self.desk) as unit:
            due = (OutboxItem.status == "pending") & (OutboxItem.next_attempt_at <= now)
            expired = (OutboxItem.status == "sending") & (OutboxItem.next_attempt_at <= now)
            rows = list((await unit.session.execute(
                select(OutboxItem).where(or_(due, expired)).order_by(OutboxItem.next_attempt_at, OutboxItem.id)
                .limit(BATCH).with_for_update(skip_locked=True))).scalars())
            for item in rows:
                item.status = "sending"
                item.attempts += 1
                item.next_attempt_at = now + lease  # the lease: retaken after it, if we die
            return [item.id for item in rows]

    async def run_once(self) -> int:
        """Claim and send one batch of due items; returns how many were attempted."""
        ids = await self._claim()
        for item_id in ids:
            await self._deliver(item_id)
        return len(ids)

    async def _deliver(self, item_id: int) -> None:
        async with self.desk.sessions() as s:
            item = await s.get(OutboxItem, item_id)
            outbound = await outbound_message(s, item.message_id)
        adapter = self.adapters.get(item.channel)
        try:
            if adapter is None:
                raise DeliveryError(f"channel {item.channel!r} is not configured", permanent=True)
            external_id = await adapter.send(outbound)
        except DeliveryError as exc:
            await self._failed(item_id, str(exc), exc.permanent, exc.retry_after)
        except Exception as exc:  # an adapter bug or a network error: retry, and log it for the admin
            logger.exception("sending outbox item %s through %s failed", item_id, item.channel)
            await self._failed(item_id, f"{type(exc).__name__}: {exc}", False, None)
        else:
            await self._sent(item_id, external_id)

    async def _sent(self, item_id: int, external_id: str) -> None:
        async with unit_of_work(self.desk) as unit:
            item = await unit.session.get(OutboxItem, item_id)
            message = await unit.session.get(Message, item.message_id)
            item.status = "sent"
            item.sent_at = utcnow()
            item.last_error = ""
            # The client may have reported the message seen while send() ran (the web chat does so
            # within milliseconds): a conditional write never steps back from "delivered".
            stepped = (await unit.session.execute(
                update(Message).where(Message.id == message.id, Message.delivery_status != "delivered")
                .values(delivery_status="sent", delivery_error="").execution_options(synchronize_session=False))).rowcount
            if external_id and not message.external_id:
                message.external_id = f"out:{external_id}"
            unit.events.append(DeliveryChanged(ticket_id=message.ticket_id, message_id=message.id,
                                               status="sent" if stepped else "delivered"))

    async def _failed(self, item_id: int, reason: str, permanent: bool, retry_after: float | None) -> None:
        settings = self.desk.settings.outbox
        async with unit_of_work(self.desk) as unit:
            item = await unit.session.get(OutboxItem, item_id)
            message = await unit.session.get(Message, item.message_id)
            item.last_error = reason[:2000]
            if retry_after is not None and not permanent:
                # The channel asked us to wait (Telegram's 429 retry_after): a rate limit, not a
                # failed attempt, so a long flood wait delays a message but never fails it.
                item.attempts = max(0, item.attempts - 1)
            if permanent or item.attempts >= settings.max_attempts:
                item.status = "failed"
                message.delivery_status = "failed"
                message.delivery_error = reason[:2000]
                logger.warning("outbox item %s failed for good after %d attempt(s): %s", item_id, item.attempts, reason)
            else:
                delay = retry_after if retry_after is not None else retry_delay(item.attempts, settings.first_retry_seconds, settings.max_retry_seconds)
                item.status = "pending"
                item.next_attempt_at = utcnow() + timedelta(seconds=delay)
            unit.events.append(DeliveryChanged(ticket_id=message.ticket_id, message_id=message.id,
                                               status=message.delivery_status, error=message.delivery_error))
