"""Retention: client words and files of long-resolved tickets are removed, the statistics stay.

Message texts (with their folded parts, originals and the copies kept for training) of tickets
resolved more than ``retention.messages_days`` ago become ``[erased]``, as an erasure leaves them;
attachments of tickets resolved more than ``retention.attachments_days`` ago are deleted with
their files. Ticket rows, numbers, queues, times, scores and routing labels stay for reports.
Work goes in batches, one transaction each, so a long first run neither holds a lock for long
nor loses what it finished when it is interrupted; a second run finds nothing more to do.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import and_, func, or_, select, update

from bot.actions.context import Desk, unit_of_work
from bot.actions.privacy import ERASED
from bot.storage.models import (
    AuditEvent, Message, RoutingDecision, StoredAttachment, Ticket, UnansweredQuestion, utcnow,
)

logger = logging.getLogger(__name__)
BATCH = 500
DONE_STATUSES = ("resolved", "closed")
Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass
class RetentionReport:
    """What a run removed (or, dry, would remove)."""

    dry_run: bool = False
    messages: int = 0
    attachments: int = 0
    files_removed: int = 0
    tickets: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, int]:
        return {"messages": self.messages, "attachments": self.attachments, "files_removed": self.files_removed,
                "tickets": len(self.tickets)}


def _expired(days: int, now: datetime):
    """Tickets resolved (or closed) more than `days` ago; a reopened ticket has no resolution time."""
    return and_(Ticket.status.in_(DONE_STATUSES), Ticket.resolved_at.is_not(None),
                Ticket.resolved_at < now - timedelta(days=days))


def _words_left():
    return or_(and_(Message.text != ERASED, Message.text != ""), Message.folded_text != "",
               Message.raw_key != "", Message.html_key != "")


async def _count(desk: Desk, query) -> int:
    async with desk.sessions() as s:
        return (await s.execute(select(func.count()).select_from(query.subquery()))).scalar_one()


async def _erase_messages(desk: Desk, now: datetime, report: RetentionReport, progress: Progress) -> set[str]:
    """Replace old message texts in batches; returns the original files they pointed at."""
    days = desk.settings.retention.messages_days
    pending = select(Message.id, Message.ticket_id).join(Ticket, Ticket.id == Message.ticket_id).where(
        _expired(days, now), _words_left())
    total = await _count(desk, pending)
    if report.dry_run or not total:
        report.messages = total
        return set()
    keys: set[str] = set()
    while True:
        async with unit_of_work(desk) as unit:
            s = unit.session
            rows = (await s.execute(pending.order_by(Message.id).limit(BATCH))).all()
            if not rows:
                break
            ids, tickets = [r[0] for r in rows], {r[1] for r in rows}
            keys |= {k for row in (await s.execute(select(Message.raw_key, Message.html_key).where(Message.id.in_(ids)))).all()
                     for k in row if k}
            await s.execute(update(Message).where(Message.id.in_(ids)).values(
                text=ERASED, folded_text="", raw_key="", html_key="", choices=[]))
            await s.execute(update(UnansweredQuestion).where(UnansweredQuestion.ticket_id.in_(tickets))
                            .values(question=ERASED))
            await s.execute(update(RoutingDecision).where(RoutingDecision.ticket_id.in_(tickets)).values(text=""))
        report.messages += len(ids)
        report.tickets |= tickets
        progress("messages", report.messages, total)
    return keys


async def _delete_attachments(desk: Desk, now: datetime, report: RetentionReport, progress: Progress) -> set[str]:
    """Delete old attachment rows in batches; returns the files they pointed at."""
    days = desk.settings.retention.attachments_days
    pending = (select(StoredAttachment.id, Message.ticket_id, StoredAttachment.storage_key)
               .join(Message, Message.id == StoredAttachment.message_id).join(Ticket, Ticket.id == Message.ticket_id)
               .where(_expired(days, now)))
    total = await _count(desk, pending)
    if report.dry_run or not total:
        report.attachments = total
        return set()
    keys: set[str] = set()
    while True:
        async with unit_of_work(desk) as unit:
            s = unit.session
            rows = (await s.execute(pending.order_by(StoredAttachment.id).limit(BATCH))).all()
            if not rows:
                break
            await s.execute(StoredAttachment.__table__.delete().where(StoredAttachment.id.in_([r[0] for r in rows])))
        keys |= {r[2] for r in rows}
        report.attachments += len(rows)
        report.tickets |= {r[1] for r in rows}
        progress("attachments", report.attachments, total)
    return keys


async def _remove_unreferenced(desk: Desk, keys: set[str]) -> int:
    """Delete stored files no row names any more (content is stored once and may be shared)."""
    removed = 0
    for start in range(0, len(keys), BATCH):
        chunk = sorted(keys)[start:start + BATCH]
        async with desk.sessions() as s:
            used = set((await s.execute(select(StoredAttachment.storage_key).where(StoredAttachment.storage_key.in_(chunk)))).scalars())
            used |= {k for row in (await s.execute(select(Message.raw_key, Message.html_key).where(
                Message.raw_key.in_(chunk) | Message.html_key.in_(chunk)))).all() for k in row}
        for key in set(chunk) - used:
            try:
                desk.files.path(key).unlink(missing_ok=True)
                removed += 1
            except Exception:  # a bad key or a read-only store: no row points at it any more
                logger.warning("retention could not remove the stored file %s", key[:12])
    return removed


async def apply_retention(desk: Desk, *, dry_run: bool = False, by: str = "desk", now: datetime | None = None,
                          progress: Progress = lambda what, done, total: None) -> RetentionReport:
    """Apply the configured limits once; audited when anything was removed."""
    settings, now = desk.settings.retention, now or utcnow()
    report = RetentionReport(dry_run=dry_run)
    keys: set[str] = set()
    if settings.messages_days:
        keys |= await _erase_messages(desk, now, report, progress)
    if settings.attachments_days:
        keys |= await _delete_attachments(desk, now, report, progress)
    if dry_run or not (report.messages or report.attachments):
        return report
    report.files_removed = await _remove_unreferenced(desk, keys)
    async with unit_of_work(desk) as unit:
        unit.session.add(AuditEvent(kind="retention_applied", data={
            "by": by, "messages_days": settings.messages_days, "attachments_days": settings.attachments_days,
            **report.as_dict()}))
    logger.info("retention: %d message texts erased, %d attachments and %d files removed on %d tickets",
                report.messages, report.attachments, report.files_removed, len(report.tickets))
    return report
