"""Who read, exported or erased a client's data: read records (throttled) and the per-client audit trail.

A read is recorded once per operator, ticket and hour (READ_WINDOW): enough to answer "who has
seen this person's messages, and when" without a row for every page refresh or API poll.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import null, select

from bot.actions.context import Desk, unit_of_work
from bot.errors import NotFound
from bot.storage.models import AuditEvent, Client, Message, Operator, StoredAttachment, Ticket, utcnow

READ = "client_read"
PRIVACY_KINDS = ("client_exported", "client_erased")
READ_WINDOW = timedelta(hours=1)


async def record_read(desk: Desk, operator_id: int, via: str, *, ticket_id: int | None = None,
                      attachment_id: int | None = None, client_id: int | None = None) -> bool:
    """Note that an operator read a ticket's (or, by `client_id` alone, a client's) data.

    False when the ticket or client does not exist or an earlier row this hour covers the read.
    """
    async with unit_of_work(desk) as unit:
        s = unit.session
        if ticket_id is None and attachment_id is not None:
            ticket_id = (await s.execute(
                select(Message.ticket_id).join(StoredAttachment, StoredAttachment.message_id == Message.id)
                .where(StoredAttachment.id == attachment_id))).scalar_one_or_none()
        if ticket_id is not None:
            client_id = (await s.execute(select(Ticket.client_id).where(Ticket.id == ticket_id))).scalar_one_or_none()
        elif client_id is not None and await s.get(Client, client_id) is None:
            client_id = None
        if client_id is None:
            return False
        now = utcnow()
        covered = select(AuditEvent.id).where(AuditEvent.kind == READ, AuditEvent.operator_id == operator_id,
                                              AuditEvent.at > now - READ_WINDOW)
        # A read of the client alone (no ticket) is throttled per client instead of per ticket.
        covered = covered.where(AuditEvent.ticket_id == ticket_id) if ticket_id is not None else covered.where(
            AuditEvent.ticket_id.is_(None), AuditEvent.data["client_id"].as_integer() == client_id)
        if (await s.execute(covered.limit(1))).first():
            return False
        s.add(AuditEvent(at=now, kind=READ, operator_id=operator_id, ticket_id=ticket_id,
                         data={"client_id": client_id, "via": via}))
        return True


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    kind: str
    who: str
    ticket_number: int | None
    via: str


async def client_audit(desk: Desk, client_id: int, limit: int = 1000) -> list[AuditEntry]:
    """Reads, exports and erasures of one client's data, newest first."""
    async with desk.sessions() as s:
        if await s.get(Client, client_id) is None:
            raise NotFound(f"there is no client {client_id}: find the number on a ticket page or in the API")
        reads = (await s.execute(
            select(AuditEvent, Operator.username, Ticket.number)
            .join(Ticket, Ticket.id == AuditEvent.ticket_id).outerjoin(Operator, Operator.id == AuditEvent.operator_id)
            .where(AuditEvent.kind == READ, Ticket.client_id == client_id)
            .order_by(AuditEvent.at.desc()).limit(limit))).all()
        reads += (await s.execute(
            select(AuditEvent, Operator.username, null()).outerjoin(Operator, Operator.id == AuditEvent.operator_id)
            .where(AuditEvent.kind == READ, AuditEvent.ticket_id.is_(None),
                   AuditEvent.data["client_id"].as_integer() == client_id)
            .order_by(AuditEvent.at.desc()).limit(limit))).all()
        requests = (await s.execute(
            select(AuditEvent).where(AuditEvent.kind.in_(PRIVACY_KINDS), AuditEvent.data["client_id"].as_integer() == client_id)
            .order_by(AuditEvent.at.desc()).limit(limit))).scalars().all()
    entries = [AuditEntry(e.at, e.kind, username or f"operator {e.operator_id}", number, str(e.data.get("via", "")))
               for e, username, number in reads]
    entries += [AuditEntry(e.at, e.kind, str(e.data.get("by", "")), None, "") for e in requests]
    return sorted(entries, key=lambda e: e.at, reverse=True)[:limit]
