"""The outbox rows' life: claim due rows under a lease, record a send or a failure.

The delivery worker (bot/outbox.py) owns the loop and the adapters; this module owns the writes.
A claim moves rows to ``sending`` with a lease; a crash leaves the lease to expire and the row is
claimed again (at least once). On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets processes share work.
"""
from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update

from bot.actions.context import Desk, unit_of_work
from bot.domain import OutboundMessage
from bot.events import DeliveryChanged
from bot.storage.models import Message, OutboxItem, utcnow
from bot.storage.queries import outbound_message

logger = logging.getLogger(__name__)


def retry_delay(attempts: int, first: float, ceiling: float, rng: random.Random = random.Random()) -> float:
    """Exponential back-off with jitter: first, 2*first, 4*first ... capped at `ceiling`."""
    base = min(ceiling, first * (2 ** max(0, attempts - 1)))
    return base * (0.8 + 0.4 * rng.random())


async def next_attempt_at(desk: Desk) -> datetime | None:
    """When the earliest pending or leased row falls due (None: nothing waits)."""
    async with desk.sessions() as s:
        return (await s.execute(select(func.min(OutboxItem.next_attempt_at))
                                .where(OutboxItem.status.in_(("pending", "sending"))))).scalar_one_or_none()


async def claim_due(desk: Desk, batch: int) -> list[int]:
    """Take up to `batch` due rows (pending, or sending with an expired lease) and lease them to us."""
    now = utcnow()
    lease = timedelta(seconds=desk.settings.outbox.lease_seconds)
    async with unit_of_work(desk) as unit:
        due = (OutboxItem.status == "pending") & (OutboxItem.next_attempt_at <= now)
        expired = (OutboxItem.status == "sending") & (OutboxItem.next_attempt_at <= now)
        rows = list((await unit.session.execute(
            select(OutboxItem).where(or_(due, expired)).order_by(OutboxItem.next_attempt_at, OutboxItem.id)
            .limit(batch).with_for_update(skip_locked=True))).scalars())
        for item in rows:
            item.status = "sending"
            item.attempts += 1
            item.next_attempt_at = now + lease  # the lease: retaken after it, if we die
        return [item.id for item in rows]


async def outbound_of(desk: Desk, item_id: int) -> tuple[str, OutboundMessage]:
    """(channel, what to send) for one claimed row."""
    async with desk.sessions() as s:
        item = await s.get(OutboxItem, item_id)
        return item.channel, await outbound_message(s, item.message_id)


async def record_sent(desk: Desk, item_id: int, external_id: str) -> None:
    async with unit_of_work(desk) as unit:
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


async def record_failure(desk: Desk, item_id: int, reason: str, permanent: bool, retry_after: float | None) -> None:
    """A failed attempt: back off and retry, or give up for good (permanent, or out of attempts)."""
    settings = desk.settings.outbox
    async with unit_of_work(desk) as unit:
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
            delay = retry_after if retry_after is not None else retry_delay(
                item.attempts, settings.first_retry_seconds, settings.max_retry_seconds)
            item.status = "pending"
            item.next_attempt_at = utcnow() + timedelta(seconds=delay)
        unit.events.append(DeliveryChanged(ticket_id=message.ticket_id, message_id=message.id,
                                           status=message.delivery_status, error=message.delivery_error))
