"""The inbox's batch path stores a group-commit batch exactly as writing its messages one by one would.

Each scenario runs twice on the same committed world, each time in a transaction rolled back
afterwards: once one message after another (the per-item path), once as one batch. What either
left in the database (tickets, messages, identities, audit trail, surveys, outbound thanks), the
receipts and the events must be the same; ids, public ids and times are compared by what they
name, not by value.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select, update

from bot.actions import inbox
from bot.actions.context import Desk, unit_of_work
from bot.actions.inbox import receive_message
from bot.actions.inbox_batch import receive_batch
from bot.actions.inbox_rows import Job
from bot.actions.operators import create_operator, log_in
from bot.actions.surveys import schedule_missed, send_due_surveys
from bot.actions.tickets import reply_to_ticket, resolve_ticket
from bot.domain import InboundMessage
from bot.storage.models import AuditEvent, ChannelIdentity, Message, Survey, Ticket, utcnow
from tests.conftest import make_settings, migrated_desk

MAIL = "mail"


@pytest.fixture
async def sdesk(tmp_path, database_url):
    """A desk with surveys on (sent as soon as a web-chat ticket is resolved)."""
    settings = make_settings(tmp_path, database_url, feedback={"survey": {
        "enabled": True, "channel_delay_minutes": {"webchat": 0}}})
    async with migrated_desk(settings) as desk:
        yield desk


def says(user: str, n: int | str, text: str = "Where is my order?", channel: str = "webchat", **kw) -> InboundMessage:
    explicit = channel == MAIL
    return InboundMessage(channel=channel, user_id=user, chat_id=user, message_id=kw.pop("message_id", f"{user}:{n}"),
                          text=text, sent_at=datetime.now(timezone.utc), explicit_threads=explicit, **kw)


async def world(desk: Desk) -> dict[str, int]:
    """Clients with tickets in every state threading tells apart; their ticket numbers by client."""
    await create_operator(desk, "olga", "Olga", "password-123", "operator", ["general"], ["en"])
    olga = (await log_in(desk, "olga", "password-123"))[1]
    numbers = {}
    for user in ("ann", "bob", "cat", "dan", "fay", "gus"):
        numbers[user] = (await receive_message(desk, says(user, 1))).ticket_number
    numbers["mel"] = (await receive_message(desk, says("mel@example.com", 1, "Invoice?", MAIL,
                                                       message_id="<m1@example.com>"))).ticket_number
    async with desk.sessions() as s:
        ids = {t.number: t.id for t in (await s.execute(select(Ticket))).scalars()}
    for user in ("bob", "cat", "dan", "fay", "gus"):
        await reply_to_ticket(desk, olga, ids[numbers[user]], "Let me check.")  # bob: waiting for the client
    for user in ("cat", "dan", "fay", "gus"):
        await resolve_ticket(desk, olga, ids[numbers[user]])
    async with unit_of_work(desk) as unit:  # dan's was resolved long ago: past the reopen window
        await unit.session.execute(update(Ticket).where(Ticket.id == ids[numbers["dan"]])
                                   .values(resolved_at=utcnow() - timedelta(days=400)))
    if not desk.settings.feedback.survey.enabled:
        return numbers
    await schedule_missed(desk)
    await send_due_surveys(desk, "http://desk.test", now=utcnow() + timedelta(minutes=1))  # fay and gus are asked
    return numbers


class Undo(Exception):
    """Leaves a run's transaction rolled back, so the next run starts from the same world."""


async def run(desk: Desk, msgs: list[InboundMessage], batch: bool, one_by_one: list | None = None) -> tuple[list, list, dict]:
    """Receipts, events and what the database holds after storing `msgs` in one transaction, then undone.

    `one_by_one` collects the message ids the batch path left to the per-item path."""

    async def receive_one(desk, unit, job):
        if one_by_one is not None:
            one_by_one.append(job.msg.message_id)
        return await inbox._receive_job(desk, unit, job)

    jobs = [Job(m, ["k" * 64] * sum(a.data is not None for a in m.attachments), ("", "")) for m in msgs]
    since = utcnow()
    try:
        async with unit_of_work(desk) as unit:
            if batch:
                receipts = await receive_batch(desk, unit, jobs, receive_one)
            else:
                receipts = [await inbox._receive_job(desk, unit, job) for job in jobs]
            seen = await snapshot(unit.session, since)
            tell = seen.pop("names")
            events = [(type(e).__name__, tell["tickets"][e.ticket_id], tell["messages"].get(getattr(e, "message_id", None)),
                       getattr(e, "new_ticket", None), getattr(e, "automated", None), getattr(e, "score", None))
                      for e in unit.events]
            receipts = [(tell["messages"][r.message_id], tell["tickets"][r.ticket_id], r.ticket_number,
                         tell["public"][r.ticket_public_id], r.duplicate, r.new_ticket, r.edited) for r in receipts]
            raise Undo
    except Undo:
        pass
    return receipts, events, seen


async def snapshot(s, since: datetime) -> dict:
    tickets = list((await s.execute(select(Ticket).order_by(Ticket.number))).scalars())
    number = {t.id: t.number for t in tickets}
    messages = list((await s.execute(select(Message).order_by(Message.id))).scalars())
    key = {m.id: (m.channel, m.external_id or f"out:{number[m.ticket_id]}:{m.text}") for m in messages}
    identities = list((await s.execute(select(ChannelIdentity).order_by(ChannelIdentity.id))).scalars())
    client = {}
    for i in identities:  # a client is named by its first identity
        client.setdefault(i.client_id, (i.channel, i.external_id))
    surveys = (await s.execute(select(Survey).order_by(Survey.id))).scalars()
    audits = (await s.execute(select(AuditEvent).where(AuditEvent.at >= since))).scalars()

    def data(d: dict) -> tuple:
        return tuple(sorted((k, key.get(v) if k == "message_id" else v) for k, v in (d or {}).items()))

    return {
        "tickets": [(t.number, client[t.client_id], t.channel, t.chat_id, t.status, t.queue_id, t.language, t.subject,
                     t.source, number.get(t.previous_ticket_id), number.get(t.mentioned_ticket_id),
                     t.resolved_at is None, t.last_message_at >= since, t.updated_at >= since) for t in tickets],
        "messages": sorted((key[m.id], number[m.ticket_id], m.direction, m.author_kind, m.text, m.automated,
                            m.edited_at is not None, m.folded_text) for m in messages),
        "identities": sorted((i.channel, i.external_id, client[i.client_id], i.display_name, i.claimed_email)
                             for i in identities),
        "surveys": [(number[v.ticket_id], v.status, v.score, v.comment, v.answered_via) for v in surveys],
        "audits": sorted((a.kind, number.get(a.ticket_id), data(a.data)) for a in audits),
        "names": {"tickets": number, "messages": key, "public": {t.public_id: t.number for t in tickets}},
    }


async def same_as_one_by_one(desk: Desk, msgs: list[InboundMessage], slow: list[str]) -> tuple[list, list, dict]:
    """Store `msgs` both ways; assert the outcomes agree (and which messages the batch left to the per-item
    path) and return the batch's."""
    one_by_one = await run(desk, msgs, batch=False)
    left = []
    batched = await run(desk, msgs, batch=True, one_by_one=left)
    assert left == slow
    assert batched[0] == one_by_one[0]  # receipts
    assert batched[1] == one_by_one[1]  # events
    for part in one_by_one[2]:
        assert batched[2][part] == one_by_one[2][part], part
    return batched


async def test_new_and_known_clients_join_reopen_continue_or_open_tickets_as_one_by_one(desk):
    numbers = await world(desk)  # surveys off: nobody is waiting for an answer
    msgs = [
        says("new-1", 1, "Hello, first time here", locale_hint="de", user_name="Neu", source="campaign-7"),
        says("ann", 2, "Any news?", user_name="Ann", claimed_email="ann@example.com"),  # joins her open ticket
        says("bob", 2, "Thanks, still broken", locale_hint="lv"),  # answers: waiting -> open
        says("cat", 2, "It broke again"),  # reopens her recently resolved ticket
        says("dan", 2, "Me again"),  # too late to reopen: a new ticket continuing the old one
        says("new-2", 1, "x" * 300, automated=True),
        says("mel@example.com", 2, "Re: Invoice?", MAIL, message_id="<m2@example.com>",
             references=("<m1@example.com>",)),  # email: joins the ticket its reference names
        says("max@example.com", 1, "About your ticket", MAIL, ticket_number=numbers["mel"]),  # mentions, never joins
        says("new-3", 1, "Hi"),
    ]
    receipts, _events, seen = await same_as_one_by_one(desk, msgs, slow=[])
    joined = {r[1] for r in receipts if not r[5]}
    assert {numbers["ann"], numbers["bob"], numbers["cat"], numbers["mel"]} <= joined
    dan = next(t for t in seen["tickets"] if t[1] == ("webchat", "dan") and t[0] != numbers["dan"])
    assert dan[9] == numbers["dan"]  # the new ticket links the one it continues
    max_ticket = next(t for t in seen["tickets"] if t[1] == (MAIL, "max@example.com"))
    assert max_ticket[10] == numbers["mel"]


async def test_several_messages_of_one_sender_in_a_batch_take_the_batch_path_as_one_by_one(desk):
    numbers = await world(desk)
    msgs = [
        says("new-1", 1, "Hello", user_name="Neu"),  # a new visitor opens a ticket (no language yet) ...
        says("bob", 2, "Still broken"),  # waiting -> open
        says("new-1", 2, "Are you there?", locale_hint="de", user_name="Neu Neu"),  # ... joins it, sets its language
        says("dan", 2, "Me again"),  # too late to reopen: a new ticket continuing the old one ...
        says("bob", 3, "Hello?"),  # joins the ticket the message before reopened
        says("new@example.com", 1, "First question", MAIL, message_id="<n1@example.com>"),
        says("dan", 3, "And again"),  # ... which the next one joins
        says("new@example.com", 2, "Second question", MAIL, message_id="<n2@example.com>"),  # email: its own ticket
        says("new@example.com", 3, "Auto-reply", MAIL, message_id="<n3@example.com>", automated=True),  # follows
        says("mel@example.com", 2, "Re: Invoice?", MAIL, message_id="<m2@example.com>", references=("<m1@example.com>",)),
        says("mel@example.com", 3, "Re: Re: Invoice?", MAIL, message_id="<m3@example.com>",
             references=("<m1@example.com>",), claimed_email="mel@example.org"),
        says("new-1", 3, "Hallo?"),
    ]
    receipts, events, seen = await same_as_one_by_one(desk, msgs, slow=[])
    tickets = [r[1] for r in receipts]
    assert tickets[0] == tickets[2] == tickets[11] and receipts[0][5] and not receipts[2][5]
    assert tickets[1] == tickets[4] == numbers["bob"] and tickets[3] == tickets[6] != numbers["dan"]
    assert len({tickets[5], tickets[7]}) == 2 and tickets[8] == tickets[7]
    assert tickets[9] == tickets[10] == numbers["mel"]
    assert next(t for t in seen["tickets"] if t[0] == tickets[0])[6] == "de"
    mine = [m for m in seen["messages"] if m[0][1].startswith("new-1:")]
    assert [m[4] for m in sorted(mine, key=lambda m: m[0])] == ["Hello", "Are you there?", "Hallo?"]
    assert [e[2] for e in events if e[1] == tickets[0]] == [("webchat", f"new-1:{n}") for n in (1, 2, 3)]


async def test_a_batch_of_one_senders_mails_through_the_group_commit_stores_a_duplicate_once(desk):
    mails = [says("kim@example.com", n, f"Question {n}", MAIL, message_id=f"<k{n}@example.com>") for n in (1, 2, 3)]
    first = await asyncio.gather(*(receive_message(desk, m) for m in [mails[0], mails[1], mails[0], mails[2]]))
    assert [r.duplicate for r in first] == [False, False, True, False]
    assert first[2].message_id == first[0].message_id
    assert len({r.ticket_id for r in first}) == 3  # email: a mail that names nothing opens a ticket of its own
    async with desk.sessions() as s:
        stored = list((await s.execute(select(Message.external_id, Message.text).where(Message.channel == MAIL)
                                       .order_by(Message.id))).all())
    assert [tuple(r) for r in stored] == [(f"<k{n}@example.com>", f"Question {n}") for n in (1, 2, 3)]


async def test_duplicates_edits_repeats_and_a_survey_answer_in_a_batch_as_one_by_one(sdesk):
    numbers = await world(sdesk)
    msgs = [
        says("ann", 1),  # a copy of a stored message: a duplicate
        says("new-1", 1, "First"),
        says("bob", 1, "Where is my order? (edited)", edited=True),  # an edit of a stored message
        says("new-1", 2, "Second"),  # the same new client twice in one batch: one ticket
        says("fay", 2, "5", button_payload="survey:5"),  # answers the survey, ticket stays resolved
        says("intruder", 1, message_id="ann:1"),  # another sender using a stored message's id
        says("ann", 3, "and one more", locale_hint="en"),
        says("gus", 2, "Can you call me back?"),  # a survey waits, but this is no answer: reopens
        says("mel@example.com", 3, "Re: [#999999] nothing", MAIL, ticket_number=999999),  # names no ticket
        says("zed", 1, "With a file", attachments=(_photo(),)),
    ]
    slow = ["ann:1", "bob:1", "new-1:2", "fay:2", "ann:1", "ann:3", "gus:2", "mel@example.com:3"]
    receipts, _events, seen = await same_as_one_by_one(sdesk, msgs, slow)
    assert receipts[0][4] and receipts[2][6]  # duplicate, edited
    assert receipts[3][1] == receipts[1][1] and receipts[1][5] and not receipts[3][5]
    assert ("webchat", "ann:1") != receipts[5][0] and receipts[5][5]  # stored under its own id, its own ticket
    fay = next(v for v in seen["surveys"] if v[0] == numbers["fay"])
    assert fay[1:3] == ("answered", 5)


def _photo():
    from bot.domain import Attachment

    return Attachment("photo.png", "image/png", 4, data=b"\x89PNG")


async def test_a_batch_of_new_visitors_takes_a_handful_of_statements(sdesk):
    await world(sdesk)
    statements = []
    engine = sdesk.sessions.kw["bind"].sync_engine
    count = lambda *args: statements.append(1)  # noqa: E731
    event.listen(engine, "before_cursor_execute", count)
    try:
        receipts, _events, _seen = await run(sdesk, [says(f"crowd-{i}", 1) for i in range(40)], batch=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert all(r[5] for r in receipts) and len({r[2] for r in receipts}) == 40
    assert len(statements) < 40  # one by one takes seven or more each


async def test_duplicates_within_and_across_batches_and_a_failing_message_through_the_group_commit(sdesk):
    await world(sdesk)
    first = await asyncio.gather(*(receive_message(sdesk, m) for m in
                                   [says("v1", 1), says("v2", 1), says("v1", 1), says("v3", 1), says("v2", 2)]))
    assert [r.duplicate for r in first] == [False, False, True, False, False]
    assert first[2].message_id == first[0].message_id and first[4].ticket_id == first[1].ticket_id
    again = await asyncio.gather(receive_message(sdesk, says("v4", 1)), receive_message(sdesk, says("v1", 1)),
                                 receive_message(sdesk, says("v5", 1, text=None)), receive_message(sdesk, says("v3", 2)),
                                 return_exceptions=True)
    assert again[1].duplicate and again[1].message_id == first[0].message_id
    assert isinstance(again[2], AttributeError)  # no text: refused alone
    assert again[0].new_ticket and again[3].ticket_id == first[3].ticket_id
    async with sdesk.sessions() as s:
        stored = set((await s.execute(select(Message.external_id).where(Message.channel == "webchat"))).scalars())
    assert {"v1:1", "v2:1", "v2:2", "v3:1", "v3:2", "v4:1"} <= stored and "v5:1" not in stored
