"""Retention: client words and files of long-resolved tickets are removed, the statistics stay.

Message texts (with their folded parts, originals and the copies kept for training) of tickets
resolved more than ``retention.messages_days`` ago become ``[erased]``, as an erasure leaves them,
and so do their notes, survey comments, complaint and follow-up texts (bot/actions/ticket_words.py);
attachments of tickets resolved more than ``retention.attachments_days`` ago are deleted with
their files once no row names them (bot/actions/stored_files.py). Ticket rows, numbers, queues,
times, scores, complaint categories and routing labels stay for reports.
Work goes in batches, one transaction each, so a long first run neither holds a lock for long
nor loses what it finished when it is interrupted; a second run finds nothing more to do.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import and_, func, or_, select, update

from bot.actions.channel_state import save_channel_state
from bot.actions.context import Desk, unit_of_work
from bot.actions.privacy import ERASED
from bot.actions.stored_files import remove_unreferenced, sweep_files
from bot.actions.ticket_words import erase_ticket_words, words_left
from bot.storage import queries
from bot.storage.models import (
    AuditEvent, Message, RoutingDecision, StoredAttachment, Ticket, UnansweredQuestion, utcnow,
)

logger = logging.getLogger(__name__)
BATCH = 500
DONE_STATUSES = ("resolved", "closed")
Progress = Callable[[str, int, int], None]  # (what, done, total)
LAST_RUN = ("desk", "retention")  # its channel_state row: the desk's own jobs use the channel name "desk"
WAITING_TTL_SECONDS = 60.0


@dataclass
class RetentionReport:
    """What a run removed (or, dry, would remove)."""

    dry_run: bool = False
    messages: int = 0
    attachments: int = 0
    notes_and_feedback: int = 0  # tickets whose notes, survey comments and complaint texts were cleared
    files_removed: int = 0
    files_deferred: int = 0  # an identical upload took the file moments ago: removed by a later sweep
    tickets: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, int]:
        return {"messages": self.messages, "attachments": self.attachments, "notes_and_feedback": self.notes_and_feedback,
                "files_removed": self.files_removed,
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
            originals = {k for row in (await s.execute(select(Message.raw_key, Message.html_key).where(
                Message.id.in_(ids)))).all() for k in row if k}
            desk.files.mark_pending(originals)  # before the commit: a crash after it leaves them to the sweep
            keys |= originals
            await s.execute(update(Message).where(Message.id.in_(ids)).values(
                text=ERASED, folded_text="", raw_key="", html_key="", choices=[]))
            await s.execute(update(UnansweredQuestion).where(UnansweredQuestion.ticket_id.in_(tickets))
                            .values(question=ERASED))
            await s.execute(update(RoutingDecision).where(RoutingDecision.ticket_id.in_(tickets)).values(text=""))
        report.messages += len(ids)
        report.tickets |= tickets
        progress("messages", report.messages, total)
    return keys


async def _erase_ticket_texts(desk: Desk, now: datetime, report: RetentionReport, progress: Progress) -> None:
    """Clear notes, survey comments, complaint and follow-up texts of old tickets, in batches."""
    pending = select(Ticket.id).where(_expired(desk.settings.retention.messages_days, now), words_left(Ticket.id))
    total = await _count(desk, pending)
    if report.dry_run or not total:
        report.notes_and_feedback = total
        return
    while True:
        async with unit_of_work(desk) as unit:
            ids = list((await unit.session.execute(pending.order_by(Ticket.id).limit(BATCH))).scalars())
            if not ids:
                break
            await erase_ticket_words(unit.session, ids)
        report.notes_and_feedback += len(ids)
        report.tickets |= set(ids)
        progress("notes and feedback", report.notes_and_feedback, total)


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
            desk.files.mark_pending({r[2] for r in rows})  # before the commit: a crash after it leaves them to the sweep
        keys |= {r[2] for r in rows}
        report.attachments += len(rows)
        report.tickets |= {r[1] for r in rows}
        progress("attachments", report.attachments, total)
    return keys


async def apply_retention(desk: Desk, *, dry_run: bool = False, by: str = "desk", now: datetime | None = None,
                          progress: Progress = lambda what, done, total: None) -> RetentionReport:
    """Apply the configured limits once; audited when anything was removed."""
    settings, now = desk.settings.retention, now or utcnow()
    report = RetentionReport(dry_run=dry_run)
    keys: set[str] = set()
    if settings.messages_days:
        keys |= await _erase_messages(desk, now, report, progress)
        await _erase_ticket_texts(desk, now, report, progress)
    if settings.attachments_days:
        keys |= await _delete_attachments(desk, now, report, progress)
    if dry_run:
        return report
    # Files erasures and earlier passes put off, then this pass's own, once its batches have committed.
    swept = await sweep_files(desk, now)
    removal = await remove_unreferenced(desk, keys, now)
    report.files_removed, report.files_deferred = swept.removed + removal.removed, removal.deferred
    # Every pass leaves its time and figures for /healthz and /metrics (bot/ops.py), removing or not.
    desk.state.pop("retention_waiting", None)
    await save_channel_state(desk, *LAST_RUN, {"at": now.isoformat(), "by": by, **report.as_dict(),
                                               "files_waiting": len(desk.files.pending())})
    if not (report.messages or report.attachments or report.notes_and_feedback):
        return report
    async with unit_of_work(desk) as unit:
        unit.session.add(AuditEvent(kind="retention_applied", data={
            "by": by, "messages_days": settings.messages_days, "attachments_days": settings.attachments_days,
            **report.as_dict()}))
    logger.info("retention: %d message texts erased, %d attachments and %d files removed on %d tickets",
                report.messages, report.attachments, report.files_removed, len(report.tickets))
    return report


async def retention_status(desk: Desk) -> dict:
    """The last pass (time, figures; None before the first) and what waits now: past-limit items and put-off files.

    The counts are those of a dry run, kept for a minute so frequent scrapes do not repeat them.
    """
    async with desk.sessions() as s:
        last = await queries.channel_state(s, *LAST_RUN)
    waiting = {"files": len(desk.files.pending())}
    if desk.settings.retention.enabled:
        cached = desk.state.get("retention_waiting")
        if cached is None or time.monotonic() - cached[0] > WAITING_TTL_SECONDS:
            dry = await apply_retention(desk, dry_run=True)
            cached = desk.state["retention_waiting"] = (time.monotonic(), {
                "messages": dry.messages, "attachments": dry.attachments, "notes_and_feedback": dry.notes_and_feedback})
        waiting |= cached[1]
    return {"enabled": desk.settings.retention.enabled, "last_run": last, "waiting": waiting}
