"""The bot's writes: answer a ticket's new client messages, or let go of it, in one transaction.

The replies (with their outbox rows), the dialogue's state and ``last_message_id`` commit
together, so each client message is answered exactly once however often a pass runs, and a
crash before the commit leaves the message to the next pass.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select

from bot.actions.context import Desk, Unit, unit_of_work
from bot.actions.tickets import queue_outbound
from bot.dialogue.flow import SelfService
from bot.dialogue.state import DONE, FORM, DialogueState, Incoming, Outcome, Situation
from bot.dialogue.summary import summary_note
from bot.domain import AuthorKind, TicketStatus
from bot.events import NoteAdded, TicketChanged, TicketHandedOff, TicketResolved
from bot.storage.models import (
    AuditEvent, BotDialogue, ChannelIdentity, Client, Message, Note, StoredAttachment, Ticket, UnansweredQuestion,
    utcnow,
)

logger = logging.getLogger(__name__)
ACTIVE = (TicketStatus.NEW.value, TicketStatus.OPEN.value, TicketStatus.WAITING.value)
MAX_MESSAGES_PER_PASS = 20


async def tickets_waiting_for_bot(desk: Desk, limit: int = 50) -> list[int]:
    """Tickets the bot holds that have client messages it has not answered yet (oldest first)."""
    done_up_to = func.coalesce(BotDialogue.last_message_id, 0)
    unanswered = exists(select(Message.id).where(Message.ticket_id == Ticket.id, Message.direction == "in",
                                                 Message.automated.is_(False),  # auto-replies are never answered
                                                 Message.id > done_up_to))
    async with desk.sessions() as s:
        rows = await s.execute(
            select(Ticket.id).outerjoin(BotDialogue, BotDialogue.ticket_id == Ticket.id)
            .where(Ticket.handed_off_at.is_(None), Ticket.status.in_(ACTIVE + (TicketStatus.RESOLVED.value,)), unanswered)
            .order_by(Ticket.id).limit(limit))
        return [r[0] for r in rows]


async def answer_ticket(desk: Desk, service: SelfService, ticket_id: int, now: datetime | None = None) -> bool:
    """Run the dialogue over the ticket's unanswered client messages; False when there was nothing to do."""
    now = now or utcnow()
    async with unit_of_work(desk) as unit:
        s = unit.session
        ticket = (await s.execute(select(Ticket).where(Ticket.id == ticket_id, Ticket.handed_off_at.is_(None))
                                  .with_for_update(skip_locked=True))).scalar_one_or_none()
        if ticket is None:
            return False  # handed off already, or another process holds it right now
        dialogue = await s.get(BotDialogue, ticket_id)
        if dialogue is None:
            dialogue = BotDialogue(ticket_id=ticket_id, stage="new", language="", state={}, last_message_id=0,
                                   handoff_reason="", created_at=now, updated_at=now)
            s.add(dialogue)
        messages = list((await s.execute(
            select(Message).where(Message.ticket_id == ticket_id, Message.direction == "in",
                                  Message.automated.is_(False), Message.id > dialogue.last_message_id)
            .order_by(Message.id).limit(MAX_MESSAGES_PER_PASS))).scalars())
        if not messages:
            return False
        if ticket.status == TicketStatus.RESOLVED.value:
            # A message that joined a resolved ticket without reopening it answers the survey: not the bot's.
            dialogue.last_message_id = messages[-1].id
            return True
        state = DialogueState.from_json(dialogue.state)
        state.stage = dialogue.stage or state.stage
        if await _operator_on(s, ticket):
            # Someone took the ticket from the console: the bot goes quiet and hands over what it has.
            dialogue.last_message_id = messages[-1].id
            await _let_go(unit, desk, service, ticket, dialogue, state, "operator joined", now)
            return True
        client = await s.get(Client, ticket.client_id)
        identity = (await s.execute(select(ChannelIdentity).where(
            ChannelIdentity.client_id == ticket.client_id, ChannelIdentity.channel == ticket.channel)
            .order_by(ChannelIdentity.id).limit(1))).scalar_one_or_none()
        files = dict((await s.execute(
            select(StoredAttachment.message_id, func.count()).where(StoredAttachment.message_id.in_([m.id for m in messages]))
            .group_by(StoredAttachment.message_id))).all())
        for message in messages:
            if message.automated:
                dialogue.last_message_id = message.id  # an auto-reply or a bounce is never answered
                continue
            situation = Situation(now=now, channel=ticket.channel,
                                  hints=tuple(h for h in (ticket.language, client.language) if h),
                                  known_email=bool(client.email or (identity and identity.claimed_email)))
            outcome = service.step(state, Incoming(message.id, message.text or "", attachments=files.get(message.id, 0)),
                                   situation)
            await _apply(unit, ticket, client, identity, state, outcome, now)
            dialogue.last_message_id = message.id
            if outcome.handoff:
                await _let_go(unit, desk, service, ticket, dialogue, state, outcome.handoff, now)
                break
        else:
            _save(dialogue, state, now)
        if state.stage == DONE:
            # Messages after the hand-off in this batch are the operator's to read, not the bot's.
            dialogue.last_message_id = max(dialogue.last_message_id, messages[-1].id)
        return True


async def hand_off_abandoned(desk: Desk, service: SelfService, now: datetime | None = None) -> int:
    """Hand over tickets whose client stopped answering a form ``form_timeout_minutes`` ago (0: never)."""
    minutes = desk.settings.bot.form_timeout_minutes
    if not minutes:
        return 0
    now = now or utcnow()
    due = now - timedelta(minutes=minutes)
    async with desk.sessions() as s:
        ids = list((await s.execute(
            select(BotDialogue.ticket_id).join(Ticket, Ticket.id == BotDialogue.ticket_id)
            .where(BotDialogue.stage == FORM, BotDialogue.updated_at <= due, Ticket.handed_off_at.is_(None))
            .order_by(BotDialogue.updated_at).limit(50))).scalars())
    moved = 0
    for ticket_id in ids:
        async with unit_of_work(desk) as unit:
            s = unit.session
            ticket = (await s.execute(select(Ticket).where(Ticket.id == ticket_id, Ticket.handed_off_at.is_(None))
                                      .with_for_update(skip_locked=True))).scalar_one_or_none()
            dialogue = await s.get(BotDialogue, ticket_id) if ticket else None
            if dialogue is None or dialogue.stage != FORM or dialogue.updated_at > due:
                continue  # answered meanwhile, or taken by another process
            state = DialogueState.from_json(dialogue.state)
            state.stage = dialogue.stage
            client = await s.get(Client, ticket.client_id)
            outcome = service.abandon(state, Situation(now=now, channel=ticket.channel))
            await _apply(unit, ticket, client, None, state, outcome, now)
            await _let_go(unit, desk, service, ticket, dialogue, state, outcome.handoff, now)
            moved += 1
    return moved


async def _operator_on(s, ticket: Ticket) -> bool:
    if ticket.assignee_id is not None:
        return True
    return bool((await s.execute(select(Message.id).where(
        Message.ticket_id == ticket.id, Message.author_kind == AuthorKind.OPERATOR.value).limit(1))).first())


async def _apply(unit: Unit, ticket: Ticket, client: Client, identity: ChannelIdentity | None,
                 state: DialogueState, outcome: Outcome, now: datetime) -> None:
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


def _save(dialogue: BotDialogue, state: DialogueState, now: datetime) -> None:
    dialogue.stage = state.stage
    dialogue.language = state.language
    dialogue.state = state.to_json()
    dialogue.updated_at = now


async def _let_go(unit: Unit, desk: Desk, service: SelfService, ticket: Ticket, dialogue: BotDialogue,
                  state: DialogueState, reason: str, now: datetime) -> None:
    """Mark the hand-off (the router's marker), leave the operator a summary, tell the router after commit."""
    s = unit.session
    await s.flush()
    state.stage = DONE
    _save(dialogue, state, now)
    last = (await s.execute(select(func.max(Message.id)).where(Message.ticket_id == ticket.id))).scalar_one()
    bot_part = (await s.execute(select(func.count()).select_from(Message).where(
        Message.ticket_id == ticket.id, Message.id <= last))).scalar_one()
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
