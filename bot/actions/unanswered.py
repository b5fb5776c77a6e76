"""The bot's unanswered questions for managers: grouped by similar wording, and marked covered by an article."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update

from bot.access import Viewer
from bot.actions.context import Desk, unit_of_work
from bot.errors import Forbidden, InvalidInput
from bot.feedback.access import sees_register
from bot.storage.models import AuditEvent, Ticket, UnansweredQuestion, utcnow
from router.text import fold

MAX_ROWS = 20_000
_PUNCTUATION = re.compile(r"[^\w]+")
MAX_IDS = 500


@dataclass
class QuestionGroup:
    """Questions worded alike (same folded text), newest first."""

    question: str
    ids: list[int] = field(default_factory=list)
    languages: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    tickets: list[int] = field(default_factory=list)  # numbers of the tickets the viewer may see
    hidden_tickets: int = 0
    covered_article: str = ""
    last: datetime | None = None

    @property
    def count(self) -> int:
        return len(self.ids)


def group_key(question: str) -> str:
    """Similar questions share a key: case, accents, script, punctuation and spacing do not matter."""
    return " ".join(_PUNCTUATION.sub(" ", fold(question or "")).split())[:120]


async def unanswered_groups(desk: Desk, viewer: Viewer, start: datetime, end: datetime, language: str = "",
                            covered: bool = False) -> list[QuestionGroup]:
    """The period's questions, grouped, most asked first; ticket numbers only for tickets the viewer may see."""
    query = (select(UnansweredQuestion, Ticket.number, Ticket.queue_id, Ticket.assignee_id)
             .join(Ticket, Ticket.id == UnansweredQuestion.ticket_id)
             .where(UnansweredQuestion.created_at >= start, UnansweredQuestion.created_at < end)
             .where(UnansweredQuestion.covered_at.is_not(None) if covered else UnansweredQuestion.covered_at.is_(None))
             .order_by(UnansweredQuestion.created_at.desc()).limit(MAX_ROWS))
    if language:
        query = query.where(UnansweredQuestion.language == language)
    groups: dict[str, QuestionGroup] = {}
    async with desk.sessions() as s:
        rows = (await s.execute(query)).all()
    for row, number, queue_id, assignee_id in rows:
        key = group_key(row.question)
        if not key:
            continue
        group = groups.setdefault(key, QuestionGroup(row.question, last=row.created_at))
        group.ids.append(row.id)
        group.languages.add(row.language or "?")
        group.kinds.add(row.kind)
        group.covered_article = group.covered_article or row.covered_article
        if viewer.can_see_ticket(queue_id, assignee_id):
            if number not in group.tickets:
                group.tickets.append(number)
        else:
            group.hidden_tickets += 1
    return sorted(groups.values(), key=lambda g: (-g.count, g.question))


async def question_languages(desk: Desk) -> list[str]:
    async with desk.sessions() as s:
        found = (await s.execute(select(UnansweredQuestion.language).distinct())).scalars().all()
    return sorted(code for code in found if code)


async def mark_covered(desk: Desk, viewer: Viewer, ids: list[int], article: str = "") -> int:
    """Mark questions covered (optionally by a knowledge-base article); returns how many changed."""
    if not sees_register(viewer):
        raise Forbidden("only supervisors, managers and admins mark questions as covered")
    if not ids:
        raise InvalidInput("choose at least one question")
    if len(ids) > MAX_IDS:
        raise InvalidInput("at most {limit} questions at once", limit=MAX_IDS)
    article = article.strip()
    if len(article) > 200:
        raise InvalidInput("the article name is too long")
    async with unit_of_work(desk) as unit:
        result = await unit.session.execute(
            update(UnansweredQuestion).where(UnansweredQuestion.id.in_(ids), UnansweredQuestion.covered_at.is_(None))
            .values(covered_at=utcnow(), covered_by=viewer.id, covered_article=article))
        unit.session.add(AuditEvent(kind="questions_covered", operator_id=viewer.id,
                                    data={"count": result.rowcount, "article": article}))
    return result.rowcount
