"""Notes, survey comments, complaint and follow-up texts, form answers and edit history are personal data:
export includes them; erasure and retention clear them and keep the statistics (scores, categories, counts)."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from bot.actions.complaints import mark_complaint
from bot.actions.followups import close_follow_up
from bot.actions.inbox import receive_message
from bot.actions.privacy import ERASED, erase_client, export_client
from bot.actions.retention import apply_retention
from bot.actions.surveys import answer_by_link, schedule_missed, send_due_surveys
from bot.actions.tickets import add_note, reply_to_ticket, resolve_ticket
from bot.config import RetentionSettings
from bot.domain import InboundMessage
from bot.storage.models import AuditEvent, Complaint, FollowUp, Message, Note, Survey, Ticket, utcnow
from tests.feedback.conftest import MAIL, operator

SECRETS = ("Elm street 5", "card 4111", "+371 2000", "voucher to Elm", "my old text")


async def scene(desk, user: str) -> int:
    """A resolved ticket of `user` with a note, a low score with a comment (and its follow-up, closed),
    a complaint and an edited message: every kind of words beside the messages."""
    anna = await operator(desk, f"anna-{user}", queues=("general",))
    olga = await operator(desk, f"olga-{user}", role="supervisor", queues=("general",))
    for text, edited in (("my old text", False), ("my new text", True)):
        receipt = await receive_message(desk, InboundMessage(
            channel=MAIL, user_id=user, chat_id=user, message_id=f"{user}:e", text=text,
            sent_at=datetime.now(timezone.utc), edited=edited, explicit_threads=True))
    ticket_id = receipt.ticket_id
    await reply_to_ticket(desk, anna, ticket_id, "It is on its way.")
    await resolve_ticket(desk, anna, ticket_id)
    await add_note(desk, anna, ticket_id, f"{user} lives at Elm street 5")
    await mark_complaint(desk, anna, ticket_id, summary=f"{user} was charged twice on card 4111", category="billing_error")
    await schedule_missed(desk)
    await send_due_surveys(desk, "http://desk.test", now=utcnow() + timedelta(hours=2))
    async with desk.sessions() as s:
        text = (await s.execute(select(Message.text).join(Survey, Survey.message_id == Message.id)
                                .where(Survey.ticket_id == ticket_id))).scalar_one()
    await answer_by_link(desk, re.search(r"/survey/([\w-]+)", text).group(1), 1, "Call me on +371 2000 0000")
    async with desk.sessions() as s:
        follow_up = (await s.execute(select(FollowUp.id).where(FollowUp.ticket_id == ticket_id))).scalar_one()
    await close_follow_up(desk, olga, follow_up, "Sent a voucher to Elm street")
    return ticket_id


async def words_of(desk, ticket_id: int) -> str:
    """Every text beside the messages of one ticket, as one string."""
    async with desk.sessions() as s:
        parts = list((await s.execute(select(Note.text).where(Note.ticket_id == ticket_id))).scalars())
        parts += [f"{c.summary} {c.resolution}" for c in (await s.execute(
            select(Complaint).where(Complaint.ticket_id == ticket_id))).scalars()]
        parts += [f.detail + f.outcome for f in (await s.execute(select(FollowUp).where(FollowUp.ticket_id == ticket_id))).scalars()]
        parts += list((await s.execute(select(Survey.comment).where(Survey.ticket_id == ticket_id))).scalars())
        parts += [json.dumps(e.data) for e in (await s.execute(select(AuditEvent).where(
            AuditEvent.ticket_id == ticket_id, AuditEvent.kind == "message_edited"))).scalars()]
    return " ".join(parts)


async def statistics(desk, ticket_id: int) -> tuple:
    async with desk.sessions() as s:
        complaint = (await s.execute(select(Complaint).where(Complaint.ticket_id == ticket_id))).scalar_one()
        survey = (await s.execute(select(Survey).where(Survey.ticket_id == ticket_id))).scalar_one()
        follow_up = (await s.execute(select(FollowUp).where(FollowUp.ticket_id == ticket_id))).scalar_one()
        notes = len(list((await s.execute(select(Note.id).where(Note.ticket_id == ticket_id))).scalars()))
    return (complaint.category, complaint.severity, complaint.status, survey.score, survey.status,
            follow_up.reason, follow_up.status, notes)


async def test_export_includes_the_words_and_erasure_clears_them_keeping_statistics(fdesk):
    mine, other = await scene(fdesk, "ann"), await scene(fdesk, "bob")
    async with fdesk.sessions() as s:
        ann = (await s.get(Ticket, mine)).client_id
    exported = json.dumps(await export_client(fdesk, ann, "test:dpo"), ensure_ascii=False)
    assert all(secret in exported for secret in SECRETS)
    assert json.loads(exported)["message_edits"][0]["previous_text"] == "my old text"
    assert "bob" not in exported
    before = await statistics(fdesk, mine)

    counts = await erase_client(fdesk, ann, "test:dpo")
    assert counts["texts"] >= 4
    left = await words_of(fdesk, mine)
    assert not any(secret in left for secret in SECRETS), left
    assert await statistics(fdesk, mine) == before
    bobs = await words_of(fdesk, other)
    assert all(secret in bobs for secret in SECRETS)  # Bob's stay
    after = json.dumps(await export_client(fdesk, ann, "test:dpo"), ensure_ascii=False)
    assert not any(secret in after for secret in SECRETS)


async def test_retention_clears_the_words_of_old_tickets_once(fdesk):
    ticket_id = await scene(fdesk, "ann")
    before = await statistics(fdesk, ticket_id)
    fdesk.settings = fdesk.settings.model_copy(update={"retention": RetentionSettings(messages_days=30)})
    soon = await apply_retention(fdesk, now=datetime.now(timezone.utc) + timedelta(days=29))
    assert soon.notes_and_feedback == 0 and "Elm street 5" in await words_of(fdesk, ticket_id)

    later = datetime.now(timezone.utc) + timedelta(days=31)
    dry = await apply_retention(fdesk, now=later, dry_run=True)
    assert dry.notes_and_feedback == 1 and "Elm street 5" in await words_of(fdesk, ticket_id)
    done = await apply_retention(fdesk, now=later)
    assert done.notes_and_feedback == 1
    left = await words_of(fdesk, ticket_id)
    assert not any(secret in left for secret in SECRETS), left
    assert await statistics(fdesk, ticket_id) == before
    assert (await apply_retention(fdesk, now=later)).as_dict()["notes_and_feedback"] == 0
