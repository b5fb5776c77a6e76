"""Post-resolution surveys: schedule on resolve, send when due, take answers from chat or the survey page.

A survey is a durable row with a due time (never an in-memory timer): the feedback worker sends
the due ones, each in its own transaction with the message and its outbox row. The queue, the
operator and the channel are copied at sending, so answers count where the ticket was then.
"""
from __future__ import annotations

import fnmatch
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from bot.actions.complaints import register_complaint
from bot.actions.context import Desk, Unit, unit_of_work
from bot.actions.followups import open_follow_up
from bot.actions.tickets import queue_outbound
from bot.config import Settings
from bot.domain import AuthorKind, InboundMessage, TicketStatus
from bot.errors import InvalidInput, NotFound
from bot.events import SurveyAnswered
from bot.feedback import texts
from bot.feedback.tokens import new_token, token_hash, well_formed
from bot.feedback.words import has_words, parse_score
from bot.storage.models import AuditEvent, ChannelIdentity, Client, Message, Survey, Ticket, utcnow

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

logger = logging.getLogger(__name__)
MAX_COMMENT = 4000
MAX_ATTEMPTS = 5
SWEEP_HOURS = 48  # resolved tickets this recent without a survey row get one (a lost wake-up)


def survey_delay(settings: Settings, channel: str) -> timedelta:
    """The configured delay for the channel (exact name or a glob such as "email*"), else the default."""
    config = settings.feedback.survey
    for pattern, minutes in config.channel_delay_minutes.items():
        if fnmatch.fnmatchcase(channel, pattern):
            return timedelta(minutes=minutes)
    return timedelta(minutes=config.delay_minutes)


def wants_link(settings: Settings, channel: str) -> bool:
    """Channels that cannot show buttons (email) get a link to the survey page instead."""
    return any(fnmatch.fnmatchcase(channel, p) for p in settings.feedback.survey.link_channels)


async def schedule_survey(desk: Desk, ticket_id: int, now: datetime | None = None) -> int | None:
    """Plan the survey of a resolved ticket (once per ticket); a survey cancelled by a reopen is planned again."""
    if not desk.settings.feedback.survey.enabled:
        return None
    now = now or utcnow()
    try:
        async with unit_of_work(desk) as unit:
            s = unit.session
            ticket = await s.get(Ticket, ticket_id)
            if ticket is None or ticket.status != TicketStatus.RESOLVED.value:
                return None
            due = (ticket.resolved_at or now) + survey_delay(desk.settings, ticket.channel)
            survey = (await s.execute(select(Survey).where(Survey.ticket_id == ticket_id)
                                      .with_for_update(key_share=True))).scalar_one_or_none()
            if survey is None:
                survey = Survey(ticket_id=ticket.id, client_id=ticket.client_id, channel=ticket.channel, status="scheduled",
                                due_at=due, created_at=now, comment="", skip_reason="", answered_via="", language="")
                s.add(survey)
                await s.flush()
            elif survey.status == "cancelled":
                survey.status, survey.due_at, survey.skip_reason = "scheduled", due, ""
            return survey.id
    except IntegrityError:  # another process planned it at the same moment
        return None


async def schedule_missed(desk: Desk, now: datetime | None = None) -> int:
    """Plan surveys for recently resolved tickets that have none (their wake-up was lost in a crash)."""
    if not desk.settings.feedback.survey.enabled:
        return 0
    now = now or utcnow()
    async with desk.sessions() as s:
        ids = list((await s.execute(
            select(Ticket.id).where(Ticket.status == TicketStatus.RESOLVED.value,
                                    Ticket.resolved_at >= now - timedelta(hours=SWEEP_HOURS),
                                    ~exists().where(Survey.ticket_id == Ticket.id))
            .order_by(Ticket.id).limit(500))).scalars())
    for ticket_id in ids:
        await schedule_survey(desk, ticket_id, now)
    return len(ids)


async def send_due_surveys(desk: Desk, public_url: str, now: datetime | None = None, limit: int = 100) -> int:
    """Send (or skip) every survey due by now; each in its own transaction. Returns how many were handled."""
    now = now or utcnow()
    async with desk.sessions() as s:
        ids = list((await s.execute(select(Survey.id).where(Survey.status == "scheduled", Survey.due_at <= now)
                                    .order_by(Survey.due_at, Survey.id).limit(limit))).scalars())
    for survey_id in ids:
        try:
            await _send_one(desk, survey_id, public_url, now)
        except Exception:
            logger.exception("survey %s could not be sent; trying again later", survey_id)
            await _postpone(desk, survey_id, now)
    return len(ids)


async def _postpone(desk: Desk, survey_id: int, now: datetime) -> None:
    async with unit_of_work(desk) as unit:
        survey = await unit.session.get(Survey, survey_id)
        survey.attempts += 1
        if survey.attempts >= MAX_ATTEMPTS:
            survey.status, survey.skip_reason = "failed", "error"
        else:
            survey.due_at = now + timedelta(minutes=2 ** survey.attempts)


async def _skip_reason(s, settings: Settings, survey: Survey, ticket: Ticket, now: datetime) -> str:
    """Why this ticket's client is not asked: spam or auto-reply, nobody answered, unreachable, asked recently."""
    config = settings.feedback.survey
    if config.skip_audit_kinds and (await s.execute(select(AuditEvent.id).where(
            AuditEvent.ticket_id == ticket.id, AuditEvent.kind.in_(config.skip_audit_kinds)).limit(1))).first():
        return "spam_or_auto_reply"
    from_person = (await s.execute(select(Message.id).where(
        Message.ticket_id == ticket.id, Message.direction == "in", Message.automated.is_(False)).limit(1))).first()
    if not from_person:
        return "spam_or_auto_reply"
    answered = (await s.execute(select(Message.id).where(
        Message.ticket_id == ticket.id, Message.direction == "out", Message.author_kind.in_(("operator", "bot"))).limit(1))).first()
    if not answered:
        return "no_reply"
    if (await s.execute(select(ChannelIdentity.id).where(
            ChannelIdentity.client_id == ticket.client_id, ChannelIdentity.channel == ticket.channel,
            ChannelIdentity.unreachable.is_(True)).limit(1))).first():
        return "unreachable"
    window = timedelta(days=config.repeat_window_days)
    if window and (await s.execute(select(Survey.id).where(
            Survey.client_id == ticket.client_id, Survey.id != survey.id, Survey.sent_at.is_not(None),
            Survey.sent_at > now - window).limit(1))).first():
        return "recently_surveyed"
    return ""


async def _send_one(desk: Desk, survey_id: int, public_url: str, now: datetime) -> None:
    settings = desk.settings
    async with unit_of_work(desk) as unit:
        s = unit.session
        # The claim is a conditional write: it takes SQLite's write lock or PostgreSQL's row lock, so
        # of two workers that both saw the survey due, exactly one goes on.
        claimed = (await s.execute(update(Survey).where(Survey.id == survey_id, Survey.status == "scheduled")
                                   .values(status="sending").execution_options(synchronize_session=False))).rowcount
        if not claimed:  # another worker took it
            return
        survey = (await s.execute(select(Survey).where(Survey.id == survey_id)
                                  .execution_options(populate_existing=True))).scalar_one()
        ticket = (await s.execute(select(Ticket).where(Ticket.id == survey.ticket_id)
                                  .with_for_update(key_share=True))).scalar_one()
        if ticket.status not in (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value):
            survey.status = "cancelled"  # reopened: planned again at the next resolve
            return
        reason = await _skip_reason(s, settings, survey, ticket, now)
        if reason:
            survey.status, survey.skip_reason = "skipped", reason
            s.add(AuditEvent(kind="survey_skipped", ticket_id=ticket.id, data={"survey_id": survey.id, "reason": reason}))
            return
        client = await s.get(Client, ticket.client_id)
        survey.language = (ticket.language or client.language or settings.desk.default_language)[:8]
        survey.queue_id, survey.operator_id, survey.channel = ticket.queue_id, ticket.assignee_id, ticket.channel
        survey.expires_at = now + timedelta(days=settings.feedback.survey.link_days)
        link = None
        if wants_link(settings, ticket.channel):
            token = new_token()
            survey.token_hash = token_hash(settings.web.secret_key, token)
            link = f"{public_url.rstrip('/')}/survey/{token}"
        text = texts.survey_question(survey.language, link, settings.feedback.survey.link_days)
        message = await queue_outbound(unit, ticket, text, AuthorKind.SYSTEM, None,
                                       choices=() if link else texts.SCORE_CHOICES)
        survey.status, survey.sent_at, survey.message_id = "sent", now, message.id
        s.add(AuditEvent(kind="survey_sent", ticket_id=ticket.id, data={"survey_id": survey.id, "link": bool(link)}))


# --- answers from a chat channel: taken by the inbox before it would reopen the ticket ---

@dataclass
class SurveyReply:
    """An inbound message that answers a survey (a score) or adds its comment; the ticket stays resolved."""

    survey: Survey
    ticket: Ticket
    score: int | None
    comment: str


async def survey_reply_for(s, client_id: int, msg: InboundMessage, now: datetime | None = None) -> SurveyReply | None:
    """Whether this message answers the survey of the client's resolved ticket in this chat."""
    now = now or utcnow()
    row = (await s.execute(
        select(Survey, Ticket).join(Ticket, Ticket.id == Survey.ticket_id)
        .where(Ticket.client_id == client_id, Ticket.channel == msg.channel, Ticket.chat_id == msg.chat_id,
               Ticket.status == TicketStatus.RESOLVED.value, Survey.status.in_(("sent", "answered")),
               Survey.expires_at > now)
        .order_by(Survey.id.desc()).limit(1).with_for_update(key_share=True))).first()
    if row is None:
        return None
    survey, ticket = row
    # Only the latest ticket of the chat: a newer open one means the client has moved on.
    newer = (await s.execute(select(Ticket.id).where(Ticket.client_id == client_id, Ticket.channel == msg.channel,
                                                     Ticket.chat_id == msg.chat_id, Ticket.id > ticket.id).limit(1))).first()
    if newer:
        return None
    score = parse_score(msg.button_payload, msg.text)
    if score is not None and survey.token_hash is None:
        return SurveyReply(survey, ticket, score, "")
    text = (msg.text or "").strip()
    if survey.comment_until is not None and survey.comment_until > now and text and not msg.attachments:
        return SurveyReply(survey, ticket, None, text[:MAX_COMMENT])
    return None


async def clients_with_open_surveys(s, chats: set[tuple[int, str, str]], now: datetime | None = None) -> set[tuple[int, str, str]]:
    """Of these (client id, channel, chat id), the chats where `survey_reply_for` could find a survey to answer.

    One read for a whole batch of messages, without locks: most chats have no survey waiting, and only
    the few returned need `survey_reply_for` itself.
    """
    now = now or utcnow()
    rows = (await s.execute(
        select(Ticket.client_id, Ticket.channel, Ticket.chat_id).join(Survey, Survey.ticket_id == Ticket.id)
        .where(Ticket.client_id.in_({c for c, _, _ in chats}), Ticket.status == TicketStatus.RESOLVED.value,
               Survey.status.in_(("sent", "answered")), Survey.expires_at > now))).all()
    return {tuple(row) for row in rows} & chats


async def take_survey_reply(unit: Unit, settings: Settings, reply: SurveyReply, now: datetime | None = None) -> None:
    """Record a chat answer (score, then an optional comment) and thank the client."""
    now = now or utcnow()
    survey, ticket = reply.survey, reply.ticket
    if reply.score is not None:
        first = survey.score is None
        survey.score, survey.status, survey.answered_via = reply.score, "answered", "chat"
        survey.answered_at = now
        if first:
            survey.comment_until = now + timedelta(minutes=settings.feedback.survey.comment_minutes)
            if settings.feedback.survey.comment_minutes:
                await queue_outbound(unit, ticket, texts.text(survey.language, "thanks_ask_comment"), AuthorKind.SYSTEM, None)
    else:
        survey.comment, survey.comment_until = reply.comment, None
        await queue_outbound(unit, ticket, texts.text(survey.language, "thanks_comment"), AuthorKind.SYSTEM, None)
    # Stays resolved: the reply is stored on the ticket without reopening it (or counting as activity).
    await _after_answer(unit, settings, survey, ticket, now)


async def _after_answer(unit: Unit, settings: Settings, survey: Survey, ticket: Ticket, now: datetime) -> None:
    """Audit the answer; a low score or complaint words open a follow-up; a low score with a comment is a complaint."""
    config = settings.feedback.survey
    unit.session.add(AuditEvent(kind="survey_answered", ticket_id=ticket.id, at=now,
                                data={"survey_id": survey.id, "score": survey.score, "comment": bool(survey.comment),
                                      "via": survey.answered_via}))
    unit.events.append(SurveyAnswered(ticket_id=ticket.id, survey_id=survey.id, score=survey.score))
    low = survey.score is not None and survey.score <= config.low_score
    words = has_words(survey.comment, config.complaint_words)
    reasons = [r for r, hit in (("low_score", low), ("complaint_words", words)) if hit]
    if not reasons:
        return
    detail = f"score {survey.score}" + (f": {survey.comment}" if survey.comment else "")
    # The follow-up goes to the supervisors of the queue the survey counted for (where the ticket was when asked).
    await open_follow_up(unit, ticket, "+".join(reasons), detail, survey.id, queue_id=survey.queue_id)
    if survey.comment:
        await register_complaint(unit, settings, ticket, source="survey", summary=survey.comment, survey_id=survey.id, now=now)


# --- answers from the survey page (email links) ---

@dataclass(frozen=True)
class LinkSurvey:
    """What the survey page shows for a token."""

    survey_id: int
    ticket_number: int
    language: str
    score: int | None
    comment: str
    expires_at: datetime
    expired: bool


async def survey_by_token(desk: Desk, token: str, now: datetime | None = None) -> LinkSurvey:
    """The survey behind a link; NotFound for a malformed, tampered or unknown token."""
    now = now or utcnow()
    if not well_formed(token):
        raise NotFound("unknown survey link")
    async with desk.sessions() as s:
        row = (await s.execute(select(Survey, Ticket.number).join(Ticket, Ticket.id == Survey.ticket_id)
                               .where(Survey.token_hash == token_hash(desk.settings.web.secret_key, token)))).first()
    if row is None:
        raise NotFound("unknown survey link")
    survey, number = row
    return LinkSurvey(survey.id, number, survey.language, survey.score, survey.comment, survey.expires_at,
                      expired=survey.expires_at <= now)


async def answer_by_link(desk: Desk, token: str, score: int, comment: str = "", now: datetime | None = None) -> LinkSurvey:
    """Record (or change, until the link expires) the answer confirmed on the survey page."""
    now = now or utcnow()
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise InvalidInput("choose a score from 1 to 5")
    # Control characters go (PostgreSQL refuses NUL); a client is not told off for what they cannot see.
    comment = _CONTROL.sub("", (comment or "").replace("\r\n", "\n")).strip()
    if len(comment) > MAX_COMMENT:
        raise InvalidInput("the comment is {length} characters; the limit is {limit}", length=len(comment), limit=MAX_COMMENT)
    if not well_formed(token):
        raise NotFound("unknown survey link")
    async with unit_of_work(desk) as unit:
        s = unit.session
        survey = (await s.execute(select(Survey).where(
            Survey.token_hash == token_hash(desk.settings.web.secret_key, token)).with_for_update(key_share=True))).scalar_one_or_none()
        if survey is None:
            raise NotFound("unknown survey link")
        if survey.expires_at <= now:
            raise InvalidInput("the survey link has expired")
        ticket = (await s.execute(select(Ticket).where(Ticket.id == survey.ticket_id)
                                  .with_for_update(key_share=True))).scalar_one()
        if survey.score is not None and (survey.score, survey.comment) != (score, comment):
            s.add(AuditEvent(kind="survey_changed", ticket_id=ticket.id, at=now,
                             data={"survey_id": survey.id, "previous_score": survey.score, "previous_comment": survey.comment}))
        survey.score, survey.comment, survey.status, survey.answered_via = score, comment, "answered", "link"
        survey.answered_at = now
        await _after_answer(unit, desk.settings, survey, ticket, now)
        return LinkSurvey(survey.id, ticket.number, survey.language, score, comment, survey.expires_at, False)


