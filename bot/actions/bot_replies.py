"""What the bot writes once the dialogue has decided: its replies and their effects, and the hand-off.

A pass (bot/actions/selfservice.py) collects every ticket's decisions in one ``BotWrites`` and
writes them into its unit of work together: the replies and their outbox rows as two multi-row
inserts (a ticket's replies in the order decided, so their ids keep the order the client reads),
the hand-offs' summaries with one read of the bot's part and one insert each for notes and audit
events. Replies, state and ``last_message_id`` commit together.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from bot.actions.context import Desk, Unit
from bot.dialogue.flow import SelfService
from bot.dialogue.state import DONE, DialogueState, Outcome
from bot.dialogue.summary import summary_note
from bot.domain import AuthorKind, DeliveryStatus, Direction, TicketStatus
from bot.events import MessageQueued, NoteAdded, TicketChanged, TicketHandedOff, TicketResolved
from bot.storage.bulk import insert_ids
from bot.storage.models import (
    AuditEvent, BotDialogue, ChannelIdentity, Client, Message, Note, OutboxItem, Ticket, UnansweredQuestion, utcnow,
)

logger = logging.getLogger(__name__)
ACTIVE = (TicketStatus.NEW.value, TicketStatus.OPEN.value, TicketStatus.WAITING.value)


@dataclass
class _HandOff:
    ticket: Ticket
    dialogue: BotDialogue
    state: DialogueState
    reason: str


@dataclass
class BotWrites:
    """The rows a pass will write, gathered ticket by ticket, then written by ``write`` in a few statements."""

    replies: list[tuple[Ticket, str, tuple[str, ...]]] = field(default_factory=list)
    unanswered: list[dict] = field(default_factory=list)
    audit: list[dict] = field(default_factory=list)
    handoffs: list[_HandOff] = field(default_factory=list)
    events: list = field(default_factory=list)  # published after the replies' and notes' events

    async def write(self, unit: Unit, desk: Desk, service: SelfService) -> None:
        """Everything gathered, into the unit; ``self`` is empty afterwards (a pass may gather again)."""
        s = unit.session
        now = utcnow()
        if self.replies:
            rows = [{"ticket_id": t.id, "channel": t.channel, "direction": Direction.OUTBOUND.value,
                     "author_kind": AuthorKind.BOT.value, "operator_id": None, "text": text,
                     "delivery_status": DeliveryStatus.QUEUED.value, "created_at": now, "choices": list(choices)}
                    for t, text, choices in self.replies]
            ids = await insert_ids(s, Message, rows)
            await s.execute(insert(OutboxItem.__table__), [
                {"message_id": message_id, "ticket_id": t.id, "channel": t.channel, "next_attempt_at": now,
                 "created_at": now}
                for message_id, (t, _, _) in zip(ids, self.replies)])
            for message_id, (ticket, _, _) in zip(ids, self.replies):
                ticket.last_message_at = ticket.updated_at = now
                unit.events.append(MessageQueued(ticket_id=ticket.id, message_id=message_id))
        if self.unanswered:
            await s.execute(insert(UnansweredQuestion.__table__), self.unanswered)
        if self.audit:
            await s.execute(insert(AuditEvent.__table__), self.audit)
        if self.handoffs:
            await self._hand_off(unit, desk, service, now)
        unit.events += self.events
        self.replies, self.unanswered, self.audit, self.handoffs, self.events = [], [], [], [], []

    async def _hand_off(self, unit: Unit, desk: Desk, service: SelfService, replied_at: datetime) -> None:
        s = unit.session
        ids = [h.ticket.id for h in self.handoffs]
        # The bot's part of each ticket is everything so far: its last message and how many there are.
        parts = {row[0]: (row[1], row[2]) for row in await s.execute(
            select(Message.ticket_id, func.max(Message.id), func.count(Message.id))
            .where(Message.ticket_id.in_(ids)).group_by(Message.ticket_id))}
        t = service.catalogs.get(desk.settings.desk.default_language)
        # After the bot's last reply in time too, so the console shows it below the folded bot part.
        noted_at = max(utcnow(), replied_at + timedelta(microseconds=1))
        rows = [{"ticket_id": h.ticket.id, "operator_id": None, "created_at": noted_at,
                 "text": summary_note(h.state, t, reason=h.reason, bot_messages=parts.get(h.ticket.id, (None, 0))[1])}
                for h in self.handoffs]
        note_ids = await insert_ids(s, Note, rows)
        await s.execute(insert(AuditEvent.__table__), [
            {"kind": "handed_off", "ticket_id": h.ticket.id, "operator_id": None, "at": h.ticket.handed_off_at,
             "data": {"reason": h.reason, "by": "bot"}} for h in self.handoffs])
        for h, note_id in zip(self.handoffs, note_ids):
            h.dialogue.handoff_message_id = parts.get(h.ticket.id, (None, 0))[0]
            h.dialogue.state = {**h.dialogue.state, "summary_note_id": note_id}  # the console shows this note as the summary
            unit.events += [NoteAdded(ticket_id=h.ticket.id, note_id=note_id),
                            TicketHandedOff(ticket_id=h.ticket.id, reason=h.reason),
                            TicketChanged(ticket_id=h.ticket.id, what="handed_off")]
        # One line a pass, not one a ticket: at a peak the log line cost as much as the ticket's writes.
        logger.info("handed off by the bot: %s", ", ".join(f"ticket {h.ticket.id} ({h.reason})" for h in self.handoffs))


def apply_outcome(writes: BotWrites, ticket: Ticket, client: Client, identity: ChannelIdentity | None,
                  state: DialogueState, outcome: Outcome, now: datetime) -> None:
    """Gather what one dialogue step decided: replies (with outbox rows), questions it could not answer, language, resolution."""
    for reply in outcome.replies:
        writes.replies.append((ticket, reply.text, tuple(reply.choices or ())))
    for item in outcome.unanswered:
        writes.unanswered.append({"ticket_id": ticket.id, "language": item.language, "question": item.question[:2000],
                                  "kind": item.kind, "article": item.article, "score": item.score, "created_at": now})
    if state.language and ticket.language != state.language:
        ticket.language = state.language
    if state.language and client.language != state.language:
        client.language = state.language
    if outcome.claimed_email and identity is not None and not identity.claimed_email:
        identity.claimed_email = outcome.claimed_email[:320]  # a claim, shown to operators, never a proof
    if outcome.resolved and ticket.status in ACTIVE:
        ticket.status = TicketStatus.RESOLVED.value
        ticket.resolved_at = ticket.updated_at = now
        writes.audit.append({"kind": "resolved", "ticket_id": ticket.id, "operator_id": None, "at": now,
                             "data": {"by": "bot", "article": state.article}})
        writes.events += [TicketChanged(ticket_id=ticket.id, what="resolved"), TicketResolved(ticket_id=ticket.id)]


def save_state(dialogue: BotDialogue, state: DialogueState, now: datetime) -> None:
    """The dialogue's state as it stands after this pass (it survives restarts)."""
    dialogue.stage = state.stage
    dialogue.language = state.language
    dialogue.state = state.to_json()
    dialogue.updated_at = now


def let_go(writes: BotWrites, ticket: Ticket, dialogue: BotDialogue, state: DialogueState, reason: str,
           now: datetime) -> None:
    """Mark the hand-off (the router's marker); the operator's summary and the router's event come with ``write``."""
    state.stage = DONE
    save_state(dialogue, state, now)
    dialogue.handoff_reason = reason[:32]
    ticket.handed_off_at = now
    ticket.updated_at = now
    writes.handoffs.append(_HandOff(ticket, dialogue, state, reason))
