"""Delivery receipts from channels: the client's side has shown our messages."""
from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.actions.context import Desk, unit_of_work
from bot.actions.inbox import MAX_ORIGINAL_BYTES
from bot.actions.threads import OUTBOUND_PREFIX
from bot.domain import AuthorKind, DeliveryReport, DeliveryStatus, Direction, Receipt
from bot.events import DeliveryChanged, MessageReceived
from bot.storage.models import AuditEvent, Message, Ticket, utcnow


async def mark_delivered(desk: Desk, channel: str, chat_id: str, message_ids: Collection[int]) -> int:
    """Mark these outbound messages of one client chat delivered (the client's side showed them);
    returns how many changed. Ids of other chats, inbound messages and ones already delivered or
    failed are left alone, so a channel may pass what it carried without sorting it first."""
    if not message_ids:
        return 0
    async with unit_of_work(desk) as unit:
        rows = list((await unit.session.execute(
            select(Message).join(Ticket, Ticket.id == Message.ticket_id)
            .where(Ticket.channel == channel, Ticket.chat_id == chat_id, Message.direction == "out",
                   Message.id.in_(sorted(set(message_ids))), Message.delivery_status.in_(("queued", "sent")))
        )).scalars())
        for message in rows:
            message.delivery_status = "delivered"
            unit.events.append(DeliveryChanged(ticket_id=message.ticket_id, message_id=message.id, status="delivered"))
        return len(rows)


async def record_delivery_report(desk: Desk, report: DeliveryReport) -> Receipt | None:
    """A bounce of one of our messages: mark it failed with the reason, keep the report in its ticket.

    Returns None when no sent message of the channel has the report's original id (the caller
    then stores the report like any other inbound message). A repeated report changes nothing.
    """
    raw_key = desk.files.save(report.raw, max_bytes=MAX_ORIGINAL_BYTES) if report.raw else ""
    try:
        async with unit_of_work(desk) as unit:
            return await _record_report(unit, report, raw_key)
    except IntegrityError:  # the same report stored concurrently: the second pass finds it
        async with unit_of_work(desk) as unit:
            return await _record_report(unit, report, raw_key)


async def _record_report(unit, report: DeliveryReport, raw_key: str) -> Receipt | None:
    s = unit.session
    existing = (await s.execute(
        select(Message, Ticket.public_id, Ticket.number).join(Ticket, Ticket.id == Message.ticket_id)
        .where(Message.channel == report.channel, Message.external_id == report.report_id))).first()
    if existing:
        stored, public_id, number = existing
        return Receipt(stored.id, stored.ticket_id, public_id, number, duplicate=True)
    original = (await s.execute(
        select(Message).where(Message.channel == report.channel, Message.direction == "out",
                              Message.external_id == OUTBOUND_PREFIX + report.original_id))).scalar_one_or_none()
    if original is None:
        return None
    ticket = await s.get(Ticket, original.ticket_id)
    reason = report.reason[:2000]
    original.delivery_status = DeliveryStatus.FAILED.value
    original.delivery_error = reason
    now = utcnow()
    stored = Message(ticket_id=ticket.id, channel=report.channel, direction=Direction.INBOUND.value,
                     author_kind=AuthorKind.SYSTEM.value, text=(report.text or reason)[:100_000],
                     external_id=report.report_id, delivery_status=DeliveryStatus.RECEIVED.value, created_at=now,
                     raw_key=raw_key, automated=True)
    s.add(stored)
    await s.flush()
    ticket.updated_at = now
    s.add(AuditEvent(kind="delivery_failed", ticket_id=ticket.id,
                     data={"message_id": original.id, "report_id": stored.id, "reason": reason}))
    unit.events.append(DeliveryChanged(ticket_id=ticket.id, message_id=original.id, status="failed", error=reason))
    unit.events.append(MessageReceived(ticket_id=ticket.id, message_id=stored.id, new_ticket=False, automated=True))
    return Receipt(stored.id, ticket.id, ticket.public_id, ticket.number)
