"""Read queries of the managers' digest: aggregates per period, and the few rows it reads (quotes, timings).

A period is anything with ``start`` and ``end`` (UTC, end excluded); the digest (bot/feedback/digest.py)
turns these rows into figures, themes and lights.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select

from bot.storage.models import (
    Client, ClientSegment, Complaint, Message, Operator, Queue, Survey, Ticket, TicketSla, UnansweredQuestion,
)

OPEN_COMPLAINT = ("received", "investigating")
OPEN_TICKET = ("new", "open", "waiting")
COMPLAINT_DIMENSIONS = {"category": Complaint.category, "queue": Queue.name, "channel": Complaint.channel}
CSAT_DIMENSIONS = {"queue": (Queue.name, (Queue, Queue.id == Survey.queue_id)),
                   "operator": (Operator.display_name, (Operator, Operator.id == Survey.operator_id))}


def _in(column, period):
    return (column >= period.start) & (column < period.end)


def _answers(period):
    """(answers, sum of scores, answers of 4 or 5) of the surveys answered in the period."""
    return (select(func.count(Survey.id), func.sum(Survey.score), func.sum(case((Survey.score >= 4, 1), else_=0)))
            .where(Survey.score.is_not(None), _in(Survey.answered_at, period)))


async def totals(s, period) -> dict:
    """Tickets opened and resolved, complaints (and the previous period's), surveys sent and answered."""
    async def count(column, moment, within) -> int:
        return (await s.execute(select(func.count(column)).where(_in(moment, within)))).scalar_one()

    answers = (await s.execute(_answers(period))).one()
    return {"opened": await count(Ticket.id, Ticket.created_at, period),
            "resolved": await count(Ticket.id, Ticket.resolved_at, period),
            "complaints": await count(Complaint.id, Complaint.created_at, period),
            "complaints_previous": await count(Complaint.id, Complaint.created_at, period.previous),
            "surveys_sent": await count(Survey.id, Survey.sent_at, period),
            "answers": tuple(answers)}


async def complaint_counts(s, dimension: str, period) -> dict:
    """Complaints per category, queue or channel in a period: {name: count}."""
    column = COMPLAINT_DIMENSIONS[dimension]
    return dict((await s.execute(select(column, func.count(Complaint.id)).join(Queue, Queue.id == Complaint.queue_id)
                                 .where(_in(Complaint.created_at, period)).group_by(column))).all())


async def complaint_texts(s, period, limit: int) -> list[tuple[str, str, str]]:
    """(summary, language, category) of the period's complaints, oldest first."""
    return [tuple(r) for r in await s.execute(
        select(Complaint.summary, Complaint.language, Complaint.category)
        .where(_in(Complaint.created_at, period)).order_by(Complaint.id).limit(limit))]


async def csat_rows(s, dimension: str, period) -> list[tuple]:
    """(queue or operator name, answers, sum of scores, answers of 4 or 5) per queue or operator."""
    name, join = CSAT_DIMENSIONS[dimension]
    query = (select(name, func.count(Survey.id), func.sum(Survey.score), func.sum(case((Survey.score >= 4, 1), else_=0)))
             .outerjoin(*join).where(Survey.score.is_not(None), _in(Survey.answered_at, period)).group_by(name))
    return [tuple(r) for r in await s.execute(query)]


async def first_responses(s, period) -> list[tuple]:
    """(queue, opened at, first operator reply at or None) of the tickets opened in the period."""
    in_period = select(Ticket.id).where(_in(Ticket.created_at, period))
    first_reply = (select(Message.ticket_id, func.min(Message.created_at).label("at"))
                   .where(Message.ticket_id.in_(in_period), Message.direction == "out", Message.author_kind == "operator")
                   .group_by(Message.ticket_id).subquery())
    return [tuple(r) for r in await s.execute(
        select(Queue.name, Ticket.created_at, first_reply.c.at).join(Queue, Queue.id == Ticket.queue_id)
        .outerjoin(first_reply, first_reply.c.ticket_id == Ticket.id).where(_in(Ticket.created_at, period)))]


async def sla_levels_now(s) -> list[tuple[str, int, int]]:
    """(queue, level, open tickets) of the open tickets whose SLA clock shows yellow (1) or red (2) now."""
    return [tuple(r) for r in await s.execute(
        select(Queue.name, TicketSla.level, func.count(TicketSla.ticket_id)).join(Ticket, Ticket.id == TicketSla.ticket_id)
        .join(Queue, Queue.id == Ticket.queue_id).where(Ticket.status.in_(OPEN_TICKET), TicketSla.level > 0)
        .group_by(Queue.name, TicketSla.level))]


async def overdue_complaints(s, now: datetime, limit: int = 50) -> list[tuple]:
    """(reference, category, severity, due at, queue, owner name, ticket number), most overdue first."""
    return [tuple(r) for r in await s.execute(
        select(Complaint.reference, Complaint.category, Complaint.severity, Complaint.due_at, Queue.name,
               Operator.display_name, Ticket.number)
        .join(Queue, Queue.id == Complaint.queue_id).join(Ticket, Ticket.id == Complaint.ticket_id)
        .outerjoin(Operator, Operator.id == Complaint.owner_id)
        .where(Complaint.status.in_(OPEN_COMPLAINT), Complaint.due_at < now)
        .order_by(Complaint.due_at).limit(limit))]


async def loyal_unhappy(s, period, low_score: int) -> tuple[list[tuple], list[tuple]]:
    """Loyal clients' low answers (client, score, comment, ticket number) and complaints
    (client, reference, summary, ticket number) in the period."""
    loyal = select(ClientSegment.client_id).where(ClientSegment.segment == "loyal")
    surveys = await s.execute(select(Survey.client_id, Survey.score, Survey.comment, Ticket.number)
                              .join(Ticket, Ticket.id == Survey.ticket_id)
                              .where(Survey.client_id.in_(loyal), Survey.score <= low_score, _in(Survey.answered_at, period)))
    surveys = [tuple(r) for r in surveys]
    complaints = await s.execute(select(Complaint.client_id, Complaint.reference, Complaint.summary, Ticket.number)
                                 .join(Ticket, Ticket.id == Complaint.ticket_id)
                                 .where(Complaint.client_id.in_(loyal), _in(Complaint.created_at, period)))
    return surveys, [tuple(r) for r in complaints]


async def client_names(s, client_ids: list[int]) -> dict[int, str]:
    if not client_ids:
        return {}
    return dict((await s.execute(select(Client.id, Client.display_name).where(Client.id.in_(client_ids)))).all())


async def unanswered_questions(s, period, limit: int) -> list[tuple[str, str]]:
    """(question, language) the bot could not answer in the period."""
    return [tuple(r) for r in await s.execute(
        select(UnansweredQuestion.question, UnansweredQuestion.language)
        .where(_in(UnansweredQuestion.created_at, period)).limit(limit))]
