"""Read queries of the feedback pages: the complaints register, follow-ups, a ticket's and a client's feedback."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from bot.access import Viewer
from bot.feedback.access import sees_all_queues
from bot.storage.queries import in_sight
from bot.storage.models import (
    AuditEvent, Client, ClientSegment, Complaint, FollowUp, Operator, Queue, SegmentChange, Survey, Ticket,
)

OPEN_COMPLAINT = ("received", "investigating")


@dataclass(frozen=True)
class ComplaintRow:
    id: int
    reference: str
    ticket_number: int
    client_name: str
    queue: str
    queue_id: int
    channel: str
    category: str
    severity: str
    status: str
    source: str
    owner: str | None
    owner_id: int | None
    summary: str
    resolution: str
    due_at: datetime
    created_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None

    def overdue(self, now: datetime) -> bool:
        """Past its due date and not yet resolved."""
        return self.status in OPEN_COMPLAINT and self.due_at < now


def _scope(viewer: Viewer, queue_column, owner_column=None):
    """The ticket visibility rule of the console, except that managers read every queue's feedback."""
    return in_sight(viewer, queue_column, owner_column, sees_all=sees_all_queues(viewer))


def _complaints_query():
    owner = aliased(Operator)
    return (select(Complaint.id, Complaint.reference, Ticket.number, Client.display_name, Queue.name, Complaint.queue_id,
                   Complaint.channel, Complaint.category, Complaint.severity, Complaint.status, Complaint.source,
                   owner.display_name, Complaint.owner_id, Complaint.summary, Complaint.resolution, Complaint.due_at,
                   Complaint.created_at, Complaint.resolved_at, Complaint.closed_at)
            .join(Ticket, Ticket.id == Complaint.ticket_id).join(Client, Client.id == Complaint.client_id)
            .join(Queue, Queue.id == Complaint.queue_id).outerjoin(owner, owner.id == Complaint.owner_id))


async def complaints(session, viewer: Viewer, *, status: str = "", category: str = "", severity: str = "",
                     queue: str = "", owner: str = "", overdue_at: datetime | None = None, limit: int = 500) -> list[ComplaintRow]:
    """The register as the viewer may see it, newest first, filtered; ``overdue_at`` keeps only overdue ones."""
    query = _complaints_query().where(_scope(viewer, Complaint.queue_id, Complaint.owner_id))
    if status == "open":
        query = query.where(Complaint.status.in_(OPEN_COMPLAINT))
    elif status:
        query = query.where(Complaint.status == status)
    if category:
        query = query.where(Complaint.category == category)
    if severity:
        query = query.where(Complaint.severity == severity)
    if queue:
        query = query.where(Queue.name == queue)
    if owner == "none":
        query = query.where(Complaint.owner_id.is_(None))
    elif owner:
        query = query.where(Complaint.owner_id == select(Operator.id).where(Operator.username == owner).scalar_subquery())
    if overdue_at is not None:
        query = query.where(Complaint.status.in_(OPEN_COMPLAINT), Complaint.due_at < overdue_at)
    rows = await session.execute(query.order_by(Complaint.id.desc()).limit(limit))
    return [ComplaintRow(*r) for r in rows]


async def complaint(session, reference: str) -> ComplaintRow | None:
    row = (await session.execute(_complaints_query().where(Complaint.reference == reference))).first()
    return ComplaintRow(*row) if row else None


async def complaint_history(session, complaint_id: int, ticket_id: int) -> list[tuple[datetime, str, str | None, dict]]:
    """(time, kind, operator name, data) of the complaint's audit trail, oldest first."""
    rows = await session.execute(
        select(AuditEvent.at, AuditEvent.kind, Operator.display_name, AuditEvent.data)
        .outerjoin(Operator, Operator.id == AuditEvent.operator_id)
        .where(AuditEvent.ticket_id == ticket_id,
               AuditEvent.kind.in_(("complaint_registered", "complaint_edited", "complaint_status")))
        .order_by(AuditEvent.id))
    return [tuple(r) for r in rows if (r[3] or {}).get("complaint_id") == complaint_id]


@dataclass(frozen=True)
class FollowUpRow:
    id: int
    ticket_number: int
    ticket_subject: str
    queue: str
    reason: str
    detail: str
    status: str
    created_at: datetime
    done_at: datetime | None
    done_by: str | None
    outcome: str
    score: int | None
    queue_id: int


def _follow_ups_query():
    done_by = aliased(Operator)
    return (select(FollowUp.id, Ticket.number, Ticket.subject, Queue.name, FollowUp.reason, FollowUp.detail, FollowUp.status,
                   FollowUp.created_at, FollowUp.done_at, done_by.display_name, FollowUp.outcome, Survey.score,
                   FollowUp.queue_id)
            .join(Ticket, Ticket.id == FollowUp.ticket_id).join(Queue, Queue.id == FollowUp.queue_id)
            .outerjoin(done_by, done_by.id == FollowUp.done_by).outerjoin(Survey, Survey.id == FollowUp.survey_id))


async def follow_ups(session, viewer: Viewer, status: str = "open", limit: int = 300) -> list[FollowUpRow]:
    query = _follow_ups_query().where(_scope(viewer, FollowUp.queue_id))
    if status in ("open", "done"):
        query = query.where(FollowUp.status == status)
    rows = await session.execute(query.order_by(FollowUp.id.desc()).limit(limit))
    return [FollowUpRow(*r) for r in rows]


async def follow_up(session, follow_up_id: int) -> FollowUpRow | None:
    """One follow-up as the list shows it (the live console pushes it to whoever may see its queue)."""
    row = (await session.execute(_follow_ups_query().where(FollowUp.id == follow_up_id))).first()
    return FollowUpRow(*row) if row else None


async def open_follow_up_count(session, viewer: Viewer) -> int:
    return (await session.execute(select(func.count(FollowUp.id))
                                  .where(FollowUp.status == "open", _scope(viewer, FollowUp.queue_id)))).scalar_one()


async def ticket_feedback(session, ticket_id: int, client_id: int) -> dict:
    """What the ticket page shows about feedback: the survey, complaints, open follow-ups, the client's segment."""
    survey = (await session.execute(select(Survey).where(Survey.ticket_id == ticket_id))).scalar_one_or_none()
    complaint_rows = await session.execute(select(Complaint.reference, Complaint.status, Complaint.category, Complaint.due_at)
                                           .where(Complaint.ticket_id == ticket_id).order_by(Complaint.id))
    follow = await session.execute(select(FollowUp.id, FollowUp.reason, FollowUp.detail)
                                   .where(FollowUp.ticket_id == ticket_id, FollowUp.status == "open"))
    segment = await session.get(ClientSegment, client_id)
    return {"survey": survey, "complaints": [tuple(r) for r in complaint_rows], "follow_ups": [tuple(r) for r in follow],
            "segment": segment}


async def segment_history(session, client_id: int, limit: int = 20) -> list[SegmentChange]:
    return list((await session.execute(select(SegmentChange).where(SegmentChange.client_id == client_id)
                                       .order_by(SegmentChange.id.desc()).limit(limit))).scalars())
