"""The client's words kept beside a ticket's messages: notes, survey comments, complaint and follow-up
texts, the bot's form answers and the history of edited messages.

Erasure and retention both clear them (the caller's transaction) and keep what reports count:
scores, categories, severities, statuses, times. `words_left` finds tickets that still hold some,
so a retention pass knows what is left to do and a second pass finds nothing.
"""
from __future__ import annotations

from sqlalchemy import and_, exists, or_, select, update

from bot.storage.models import AuditEvent, BotDialogue, Complaint, FollowUp, Note, Survey

ERASED = "[erased]"
PERSONAL_STATE = {"question": "", "fields": {}, "unreadable": {}}  # bot/dialogue/state.py: what the client typed


def words_left(ticket_id_column):
    """A condition true for tickets that still hold any of these words."""
    on = lambda model: model.ticket_id == ticket_id_column  # noqa: E731
    return or_(
        exists().where(on(Note), Note.text != ERASED),
        exists().where(on(Survey), Survey.comment != ""),
        exists().where(on(Complaint), or_(Complaint.summary != ERASED, Complaint.resolution != "")),
        exists().where(on(FollowUp), or_(and_(FollowUp.detail != "", FollowUp.detail != ERASED), FollowUp.outcome != "")),
    )


async def erase_ticket_words(s, ticket_ids) -> int:
    """Clear the words on these tickets (ids or a select of them); returns the rows changed."""
    changed = 0
    for statement in (
        update(Note).where(Note.ticket_id.in_(ticket_ids), Note.text != ERASED).values(text=ERASED),
        update(Survey).where(Survey.ticket_id.in_(ticket_ids), Survey.comment != "").values(comment=""),
        update(Complaint).where(Complaint.ticket_id.in_(ticket_ids), or_(Complaint.summary != ERASED,
                                Complaint.resolution != "")).values(summary=ERASED, resolution=""),
        update(FollowUp).where(FollowUp.ticket_id.in_(ticket_ids), or_(
            and_(FollowUp.detail != "", FollowUp.detail != ERASED), FollowUp.outcome != "")).values(detail=ERASED, outcome=""),
    ):
        changed += (await s.execute(statement.execution_options(synchronize_session=False))).rowcount
    # JSON values are rewritten row by row: the keys that hold client text go, the rest stays.
    for dialogue in (await s.execute(select(BotDialogue).where(BotDialogue.ticket_id.in_(ticket_ids)))).scalars():
        if any(dialogue.state.get(k) for k in PERSONAL_STATE):
            dialogue.state = {**dialogue.state, **PERSONAL_STATE}
    for event in (await s.execute(select(AuditEvent).where(
            AuditEvent.kind == "message_edited", AuditEvent.ticket_id.in_(ticket_ids)))).scalars():
        if event.data.get("previous_text") not in (None, ERASED):
            event.data = {**event.data, "previous_text": ERASED}
    return changed
