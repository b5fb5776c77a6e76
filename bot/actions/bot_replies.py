"""What the bot writes once the dialogue has decided: its replies and their effects, and the hand-off.

All of it goes into the caller's unit of work (bot/actions/selfservice.py), so a ticket's replies,
state and ``last_message_id`` commit together.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select

from bot.actions.context import Desk, Unit
from bot.actions.tickets import queue_outbound
from bot.dialogue.flow import SelfService
from bot.dialogue.state import DONE, DialogueState, Outcome
from bot.dialogue.summary import summary_note
from bot.domain import AuthorKind, TicketStatus
from bot.events import NoteAdded, TicketChanged, TicketHandedOff, TicketResolved
from bot.storage.models import AuditEvent, BotDialogue, ChannelIdentity, Client, Message, Note, Ticket, UnansweredQuestion, utcnow

logger = logging.getLogger(__name__)
ACTIVE = (TicketStatus.NEW.value, TicketStatus.OPEN.value, TicketStatus.WAITING.value)


async def apply_outcome(unit: Unit, ticket: Ticket, client: Client, identity: ChannelIdentity | None,
                               state: DialogueState, outcome: Outcome, now: datetime) -> None:
    """Write what one dialogue step decided: replies (with outbox rows), questions it could not answer, language, resolution."""
    s = unit.session
    for reply in outcome.replies:
        await queue_outbound(unit, ticket, reply.text, AuthorKind.BOT, None, choices=reply.choices)
    for item in outcome.unanswered:
        s.add(UnansweredQuestion(ticket_id=ticket.id, language=item.language, question=item.question[:2000],
                                 kind=item.kind, article=item.article, score=item.score, created_at=now))
    if state.language and ticket.language != state.language:
        ticket.language = state.language
    if state.language and client.language != state.language:
        client.language = state.language
    if outcome.claimed_email and identity is not None and not identity.claimed_email:
        identity.claimed_email = outcome.claimed_email[:320]  # a claim, shown to operators, never a proof
    if outcome.resolved and ticket.status in ACTIVE:
        ticket.status = TicketStatus.RESOLVED.value
        ticket.resolved_at = ticket.updated_at = now
        s.add(AuditEvent(kind="resolved", ticket_id=ticket.id, at=now, data={"by": "bot", "article": state.article}))
        unit.events += [TicketChanged(ticket_id=ticket.id, what="resolved"), TicketResolved(ticket_id=ticket.id)]


def save_state(dialogue: BotDialogue, state: DialogueState, now: datetime) -> None:
    """The dialogue's state as it stands after this pass (it survives restarts)."""
    dialogue.stage = state.stage
    dialogue.language = state.language
    dialogue.state = state.to_json()
    dialogue.updated_at = now


async def let_go(unit: Unit, desk: Desk, service: SelfService, ticket: Ticket, dialogue: BotDialogue,
                 state: DialogueState, reason: str, now: datetime) -> None:
    """Mark the hand-off (the router's marker), leave the operator a summary, tell the router after commit."""
    s = unit.session
    await s.flush()
    state.stage = DONE
    save_state(dialogue, state, now)
    # The bot's part of the ticket is everything so far: its last message and how many there are.
    last, bot_part = (await s.execute(select(func.max(Message.id), func.count(Message.id))
                                      .where(Message.ticket_id == ticket.id))).one()
    dialogue.handoff_message_id = last
    dialogue.handoff_reason = reason[:32]
    ticket.handed_off_at = now
    ticket.updated_at = now
    t = service.catalogs.get(desk.settings.desk.default_language)
    # After the bot's last reply in time too, so the console shows it below the folded bot part.
    note = Note(ticket_id=ticket.id, operator_id=None, created_at=utcnow(),
                text=summary_note(state, t, reason=reason, bot_messages=bot_part))
    s.add(note)
    s.add(AuditEvent(kind="handed_off", ticket_id=ticket.id, at=now, data={"reason": reason, "by": "bot"}))
    await s.flush()
    dialogue.state = {**dialogue.state, "summary_note_id": note.id}  # the console shows this note as the summary
    unit.events += [NoteAdded(ticket_id=ticket.id, note_id=note.id), TicketHandedOff(ticket_id=ticket.id, reason=reason),
                    TicketChanged(ticket_id=ticket.id, what="handed_off")]
    logger.info("ticket %s handed off by the bot: %s", ticket.id, reason)
