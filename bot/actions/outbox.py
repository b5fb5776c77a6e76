"""The outbox rows' life: claim due rows under a lease, record a batch's sends and failures.

The delivery worker (bot/outbox.py) owns the loop and the adapters; this module owns the writes.
A claim moves rows to ``sending`` with a lease; a crash leaves the lease to expire and the row is
claimed again (at least once); a clean stop gives back the rows it never tried. On PostgreSQL
``FOR NO KEY UPDATE SKIP LOCKED`` lets processes share work, and a ticket's rows are claimed in order.
Outcomes are written a group at a time in one transaction; if that fails, one by one.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import aliased

from bot.actions.context import Desk, unit_of_work
from bot.domain import OutboundMessage
from bot.events import DeliveryChanged
from bot.storage.models import Message, OutboxItem, utcnow
from bot.storage.outbound import outbound_messages

logger = logging.getLogger(__name__)
UNSENT = ("pending", "sending")  # a row still to send, or being sent under a lease


@dataclass(frozen=True)
class Attempt:
    """What became of one claimed row: sent (``error`` empty), failed, or held back behind another row.

    ``behind``: an earlier row to the same chat failed in this batch, so this one was not tried and
    falls due with it (a wait, not a failed attempt), keeping the chat's order.
    """

    item_id: int
    external_id: str = ""
    error: str = ""
    permanent: bool = False
    retry_after: float | None = None
    behind: int | None = None

    @property
    def sent(self) -> bool:
        return not self.error and self.behind is None


def retry_delay(attempts: int, first: float, ceiling: float, rng: random.Random = random.Random()) -> float:
    """Exponential back-off with jitter: first, 2*first, 4*first ... capped at `ceiling`."""
    base = min(ceiling, first * (2 ** max(0, attempts - 1)))
    return base * (0.8 + 0.4 * rng.random())


async def next_attempt_at(desk: Desk) -> datetime | None:
    """When the earliest pending or leased row falls due (None: nothing waits)."""
    async with desk.sessions() as s:
        return (await s.execute(select(func.min(OutboxItem.next_attempt_at))
                                .where(OutboxItem.status.in_(UNSENT)))).scalar_one_or_none()


async def claim_due(desk: Desk, batch: int, per_ticket: int = 10) -> list[int]:
    """Lease up to `batch` due rows to us, in id order: tickets' first unsent rows, then their due followers.

    A row is taken only while no earlier row of its ticket is pending or being sent, so whoever leases a
    ticket's first unsent row owns the ticket until its outcomes are recorded: two processes never send
    one ticket's rows side by side (out of order), and a row waiting for a retry holds back the later ones.
    """
    now = utcnow()
    lease = timedelta(seconds=desk.settings.outbox.lease_seconds)
    unsent = OutboxItem.status.in_(UNSENT)
    async with unit_of_work(desk) as unit:
        s = unit.session
        earlier = aliased(OutboxItem)  # along ix_outbox_ticket_unsent: a probe of the ticket's unsent rows
        waits_behind = exists().where(earlier.ticket_id == OutboxItem.ticket_id, earlier.status.in_(UNSENT),
                                      earlier.id < OutboxItem.id)
        # Pending and due, or sending with an expired lease (its process died): both fall due by next_attempt_at.
        rows = list((await s.execute(
            select(OutboxItem).where(unsent, OutboxItem.next_attempt_at <= now, ~waits_behind)
            .order_by(OutboxItem.next_attempt_at, OutboxItem.id).limit(batch)
            .with_for_update(skip_locked=True, key_share=True))).scalars())
        if rows:
            # The head's lock makes the ticket ours: its later rows are taken in order up to the first not yet due.
            later = (await s.execute(
                select(OutboxItem).where(OutboxItem.ticket_id.in_({item.ticket_id for item in rows}), unsent,
                                         OutboxItem.id.not_in([item.id for item in rows]))
                .order_by(OutboxItem.id).with_for_update(key_share=True))).scalars().all()
            taken = {item.ticket_id: 1 for item in rows}
            for item in later:
                if taken[item.ticket_id] < per_ticket and item.next_attempt_at <= now and len(rows) < batch:
                    rows.append(item)
                    taken[item.ticket_id] += 1
                else:
                    taken[item.ticket_id] = per_ticket  # the rest of this ticket waits behind it
        for item in rows:
            item.status = "sending"
            item.attempts += 1
            item.next_attempt_at = now + lease  # the lease: retaken after it, if we die
        return sorted(item.id for item in rows)


async def release_claims(desk: Desk, item_ids: list[int]) -> None:
    """Give back claimed rows that were never tried (the worker is stopping): due at once, no attempt counted."""
    if not item_ids:
        return
    async with unit_of_work(desk) as unit:
        await unit.session.execute(
            update(OutboxItem).where(OutboxItem.id.in_(item_ids), OutboxItem.status == "sending")
            .values(status="pending", attempts=OutboxItem.attempts - 1, next_attempt_at=utcnow())
            .execution_options(synchronize_session=False))


async def outbound_of(desk: Desk, item_ids: list[int]) -> list[tuple[int, str, OutboundMessage | None]]:
    """(row id, channel, what to send) for claimed rows, in the order given, read together."""
    async with desk.sessions() as s:
        items = {i.id: i for i in (await s.execute(select(OutboxItem).where(OutboxItem.id.in_(item_ids)))).scalars()}
        payloads = await outbound_messages(s, [i.message_id for i in items.values()])
        return [(i, items[i].channel, payloads.get(items[i].message_id)) for i in item_ids if i in items]


async def record_attempts(desk: Desk, attempts: list[Attempt]) -> None:
    """Write a batch's outcomes in one transaction; should that fail, each on its own (a bad row stays leased)."""
    if not attempts:
        return
    try:
        async with unit_of_work(desk) as unit:
            await _record(unit, desk.settings.outbox, attempts)
        return
    except Exception:
        if len(attempts) == 1:
            raise
        logger.exception("recording %d outbox outcomes together failed; recording them one by one", len(attempts))
    for attempt in attempts:
        try:
            async with unit_of_work(desk) as unit:
                await _record(unit, desk.settings.outbox, [attempt])
        except Exception:
            # The row keeps its lease and is sent again after it: at least once.
            logger.exception("recording the outcome of outbox item %s failed", attempt.item_id)


async def _record(unit, settings, attempts: list[Attempt]) -> None:
    s = unit.session
    items = {i.id: i for i in (await s.execute(
        select(OutboxItem).where(OutboxItem.id.in_([a.item_id for a in attempts])))).scalars()}
    messages = {m.id: m for m in (await s.execute(
        select(Message).where(Message.id.in_([i.message_id for i in items.values()])))).scalars()}
    sent = [a for a in attempts if a.sent and a.item_id in items]
    # The client may have reported a message seen while send() ran (the web chat does so within
    # milliseconds): a conditional write never steps back from "delivered".
    stepped = set()
    if sent:
        stepped = set((await s.execute(
            update(Message).where(Message.id.in_([items[a.item_id].message_id for a in sent]),
                                  Message.delivery_status != "delivered")
            .values(delivery_status="sent", delivery_error="").returning(Message.id)
            .execution_options(synchronize_session=False))).scalars())
    now = utcnow()
    # Rows held back go last: they fall due with the row ahead of them, once its outcome is known.
    for attempt in sorted(attempts, key=lambda a: a.behind is not None):
        item = items.get(attempt.item_id)
        if item is None:
            continue  # erased meanwhile (retention, a client's erasure)
        message = messages.get(item.message_id)
        if message is None:
            item.status, item.last_error = "failed", "the message no longer exists"
            continue
        if attempt.sent:
            item.status, item.sent_at, item.last_error = "sent", now, ""
            if attempt.external_id and not message.external_id:
                message.external_id = f"out:{attempt.external_id}"
            unit.events.append(DeliveryChanged(ticket_id=message.ticket_id, message_id=message.id,
                                               status="sent" if message.id in stepped else "delivered"))
        elif attempt.behind is not None:
            ahead = items.get(attempt.behind) or await s.get(OutboxItem, attempt.behind)
            _hold_back(item, ahead, attempt.error, now)
        else:
            _fail(unit, settings, item, message, attempt, now)


def _hold_back(item: OutboxItem, ahead: OutboxItem | None, reason: str, now: datetime) -> None:
    """Not tried: falls due with the row ahead of it (or at once, when that one is done with)."""
    item.attempts = max(0, item.attempts - 1)
    item.status = "pending"
    item.last_error = reason[:2000]
    item.next_attempt_at = ahead.next_attempt_at if ahead is not None and ahead.status == "pending" else now


def _fail(unit, settings, item: OutboxItem, message: Message, attempt: Attempt, now: datetime) -> None:
    """A failed attempt: back off and retry, or give up for good (permanent, or out of attempts)."""
    reason = attempt.error
    item.last_error = reason[:2000]
    if attempt.retry_after is not None and not attempt.permanent:
        # The channel asked us to wait (Telegram's 429 retry_after): a rate limit, not a
        # failed attempt, so a long flood wait delays a message but never fails it.
        item.attempts = max(0, item.attempts - 1)
    if attempt.permanent or item.attempts >= settings.max_attempts:
        item.status = "failed"
        message.delivery_status = "failed"
        message.delivery_error = reason[:2000]
        logger.warning("outbox item %s failed for good after %d attempt(s): %s", item.id, item.attempts, reason)
    else:
        delay = attempt.retry_after if attempt.retry_after is not None else retry_delay(
            item.attempts, settings.first_retry_seconds, settings.max_retry_seconds)
        item.status = "pending"
        item.next_attempt_at = now + timedelta(seconds=delay)
    unit.events.append(DeliveryChanged(ticket_id=message.ticket_id, message_id=message.id,
                                       status=message.delivery_status, error=message.delivery_error))
