"""The survey end to end on the web chat: buttons after resolution, the score and a comment, follow-up and complaint."""
from __future__ import annotations

import aiohttp
from sqlalchemy import select

from bot.actions.operators import log_in
from bot.actions.tickets import reply_to_ticket, resolve_ticket
from bot.storage.models import Complaint, FollowUp, Operator, Queue, Survey, Ticket
from tests.channels.webchat.conftest import Chat
from tests.feedback.conftest import operator


async def test_a_web_chat_visitor_rates_with_a_button_and_comments_without_reopening_the_ticket(fserver):
    desk = fserver.desk
    anna = await operator(desk, "anna", queues=("general",))
    await operator(desk, "olga", role="supervisor", queues=("general", "complaints"))
    async with aiohttp.ClientSession() as session:
        chat = Chat(fserver, session)
        visitor = await chat.visitor()
        ack = await visitor.say("m1", "Where is my order NW-123456?")
        async with desk.sessions() as s:
            ticket = (await s.execute(select(Ticket).where(Ticket.number == ack["ticket"]))).scalar_one()
        await reply_to_ticket(desk, anna, ticket.id, "It leaves the warehouse today.")
        await visitor.message(lambda f: f["author"] == "operator")
        await resolve_ticket(desk, anna, ticket.id)

        survey_frame = await visitor.message(lambda f: f["author"] == "system")
        assert survey_frame["choices"] == ["1", "2", "3", "4", "5"]
        assert "1 (very poor) to 5 (excellent)" in survey_frame["text"]

        await visitor.say("m2", "2", payload="2")  # the button's text is its payload
        thanks = await visitor.message(lambda f: f["author"] == "system")
        assert "what we could do better" in thanks["text"]
        await visitor.say("m3", "The courier was rude and the box came late, terrible.")
        frames = [await visitor.message(lambda f: f["author"] == "system") for _ in range(2)]

    texts = " | ".join(f["text"] for f in frames)
    assert "passed your comment on" in texts and "registered your complaint under reference C-1001" in texts
    async with desk.sessions() as s:
        ticket = await s.get(Ticket, ticket.id)
        survey = (await s.execute(select(Survey).where(Survey.ticket_id == ticket.id))).scalar_one()
        follow_up = (await s.execute(select(FollowUp).where(FollowUp.ticket_id == ticket.id))).scalar_one()
        complaint = (await s.execute(select(Complaint).where(Complaint.ticket_id == ticket.id))).scalar_one()
        general = (await s.execute(select(Queue.id).where(Queue.name == "general"))).scalar_one()
        olga = (await s.execute(select(Operator.id).where(Operator.username == "olga"))).scalar_one()
    assert ticket.status == "resolved"  # neither the score nor the comment reopened it
    assert (survey.score, survey.answered_via, survey.channel, survey.queue_id, survey.operator_id) == (2, "chat", "webchat", general, anna.id)
    assert survey.comment.startswith("The courier was rude")
    assert (follow_up.status, follow_up.queue_id) == ("open", general)
    assert set(follow_up.reason.split("+")) == {"low_score", "complaint_words"}
    assert (complaint.reference, complaint.source, complaint.category, complaint.owner_id) == ("C-1001", "survey", "rude_staff", olga)


async def test_a_visitor_who_writes_anew_after_the_survey_reopens_the_ticket(fserver):
    desk = fserver.desk
    anna = await operator(desk, "anna")
    async with aiohttp.ClientSession() as session:
        visitor = await Chat(fserver, session).visitor()
        ack = await visitor.say("m1", "Hello, a question about sizes")
        async with desk.sessions() as s:
            ticket_id = (await s.execute(select(Ticket.id).where(Ticket.number == ack["ticket"]))).scalar_one()
        await reply_to_ticket(desk, anna, ticket_id, "Size M fits most.")
        await resolve_ticket(desk, anna, ticket_id)
        await visitor.message(lambda f: f.get("choices"))
        await visitor.say("m2", "And do you ship to Estonia?")  # not a score: a new question
    async with desk.sessions() as s:
        assert (await s.get(Ticket, ticket_id)).status == "open"
        survey = (await s.execute(select(Survey).where(Survey.ticket_id == ticket_id))).scalar_one()
    assert (survey.status, survey.score) == ("sent", None)
    assert (await log_in(desk, "anna", "password-123")) is not None
