"""Follow-ups for a queue's supervisors: opened by low scores and complaint words, closed with an outcome."""
from __future__ import annotations

from sqlalchemy import select

from bot.access import Viewer
from bot.actions.context import Desk, Unit, unit_of_work
from bot.errors import InvalidInput, NotFound
from bot.events import FollowUpOpened
from bot.feedback.access import sees_queue_feedback
from bot.storage.models import AuditEvent, FollowUp, Ticket, utcnow

MAX_OUTCOME = 5000


async def open_follow_up(unit: Unit, ticket: Ticket, reason: str, detail: str, survey_id: int | None = None,
                         queue_id: int | None = None) -> FollowUp:
    """Open a follow-up in the caller's transaction; a survey keeps one open follow-up, updated in place."""
    s = unit.session
    if survey_id is not None:
        existing = (await s.execute(select(FollowUp).where(FollowUp.survey_id == survey_id, FollowUp.status == "open"))).scalar_one_or_none()
        if existing is not None:
            reasons = sorted(set(existing.reason.split("+")) | set(reason.split("+")))
            existing.reason, existing.detail = "+".join(reasons)[:32], detail
            return existing
    follow_up = FollowUp(ticket_id=ticket.id, survey_id=survey_id, queue_id=queue_id or ticket.queue_id, reason=reason[:32],
                         detail=detail, status="open", created_at=utcnow())
    s.add(follow_up)
    await s.flush()
    s.add(AuditEvent(kind="follow_up_opened", ticket_id=ticket.id, data={"follow_up_id": follow_up.id, "reason": reason}))
    unit.events.append(FollowUpOpened(ticket_id=ticket.id, follow_up_id=follow_up.id))
    return follow_up


async def close_follow_up(desk: Desk, viewer: Viewer, follow_up_id: int, outcome: str) -> None:
    """A supervisor of the queue (or a manager) records what was done and closes the follow-up."""
    outcome = (outcome or "").replace("\r\n", "\n").strip()
    if not outcome:
        raise InvalidInput("say what was done (the outcome is kept with the follow-up)")
    if len(outcome) > MAX_OUTCOME:
        raise InvalidInput("the outcome is {length} characters; the limit is {limit}", length=len(outcome), limit=MAX_OUTCOME)
    async with unit_of_work(desk) as unit:
        follow_up = (await unit.session.execute(select(FollowUp).where(FollowUp.id == follow_up_id)
                                                .with_for_update(key_share=True))).scalar_one_or_none()
        if follow_up is None or not sees_queue_feedback(viewer, follow_up.queue_id):
            raise NotFound(f"follow-up {follow_up_id} not found")
        if follow_up.status == "done":
            return
        follow_up.status, follow_up.outcome = "done", outcome
        follow_up.done_at, follow_up.done_by = utcnow(), viewer.id
        unit.session.add(AuditEvent(kind="follow_up_done", ticket_id=follow_up.ticket_id, operator_id=viewer.id,
                                    data={"follow_up_id": follow_up.id}))
