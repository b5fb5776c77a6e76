"""Survey links for channels without buttons: hashed tokens, tampering, expiry, scanners' prefetch, changing the answer."""
from __future__ import annotations

import re
from datetime import timedelta

import aiohttp
from sqlalchemy import select, update

from bot.actions.surveys import send_due_surveys
from bot.storage.models import AuditEvent, FollowUp, Message, Survey, utcnow
from tests.feedback.conftest import client_writes, operator, resolved_ticket

LINK = re.compile(r"(http://[^\s]+/survey/([A-Za-z0-9_-]+))")


async def _survey_link(server, ticket_id: int) -> str:
    """Make the planned survey due and send it; the link from the stored message (what the channel delivers)."""
    desk = server.desk
    await desk.bus.drain()  # the resolve's listener has planned the survey
    async with desk.sessions() as s, s.begin():
        await s.execute(update(Survey).where(Survey.ticket_id == ticket_id).values(due_at=utcnow() - timedelta(seconds=1)))
    await send_due_surveys(desk, server.url)
    async with desk.sessions() as s:
        message = (await s.execute(select(Message).join(Survey, Survey.message_id == Message.id)
                                   .where(Survey.ticket_id == ticket_id))).scalar_one()
    assert message.choices == [] and message.author_kind == "system"  # a link, no buttons
    return LINK.search(message.text).group(1)


async def test_a_prefetch_records_nothing_and_the_confirm_step_records_the_answer(fserver):
    anna = await operator(fserver.desk, "anna")
    ticket_id = await resolved_ticket(fserver.desk, anna)
    link = await _survey_link(fserver, ticket_id)
    async with aiohttp.ClientSession() as http:
        for _ in range(3):  # a mail scanner, a link preview, the client's own click
            async with http.get(link + "?score=4") as r:
                page = await r.text()
                assert r.status == 200 and r.headers["Referrer-Policy"] == "no-referrer"
        assert 'value="4" checked' in page and 'method="post"' in page
        async with fserver.desk.sessions() as s:
            assert (await s.execute(select(Survey.score).where(Survey.ticket_id == ticket_id))).scalar_one() is None
        async with http.post(link, data={"score": "4", "comment": "Quick <b>and</b> kind"}) as r:
            assert r.status == 200 and "Your answer is saved" in await r.text()
        async with http.post(link, data={"score": "5", "comment": ""}) as r:  # changed while the link is valid
            assert r.status == 200
        async with http.get(link) as r:
            assert 'value="5" checked' in await r.text()
    async with fserver.desk.sessions() as s:
        survey = (await s.execute(select(Survey).where(Survey.ticket_id == ticket_id))).scalar_one()
        changes = (await s.execute(select(AuditEvent.data).where(AuditEvent.kind == "survey_changed"))).scalars().all()
        stored = (await s.execute(select(Survey.token_hash).where(Survey.ticket_id == ticket_id))).scalar_one()
    assert (survey.score, survey.comment, survey.answered_via, survey.status) == (5, "", "link", "answered")
    assert [c["previous_score"] for c in changes] == [4]
    assert link.rsplit("/", 1)[1] not in stored  # only a keyed hash is kept


async def test_tampered_unknown_and_expired_links_record_nothing(fserver):
    anna = await operator(fserver.desk, "anna")
    ticket_id = await resolved_ticket(fserver.desk, anna)
    link = await _survey_link(fserver, ticket_id)
    token = link.rsplit("/", 1)[1]
    tampered = link[:-1] + ("A" if token[-1] != "A" else "B")
    async with aiohttp.ClientSession() as http:
        for bad in (tampered, link[:-5], f"{fserver.url}/survey/{'x' * 200}", f"{fserver.url}/survey/..%2F..%2Fetc"):
            async with http.post(bad, data={"score": "1"}) as r:
                assert r.status == 404, bad
        async with http.post(link, data={"score": "9"}) as r:
            assert r.status == 422 and "choose a score" in (await r.text()).lower()
        async with fserver.desk.sessions() as s, s.begin():
            await s.execute(update(Survey).where(Survey.ticket_id == ticket_id).values(expires_at=utcnow() - timedelta(seconds=1)))
        async with http.get(link + "?score=1") as r:
            assert r.status == 410 and "expired" in await r.text()
        async with http.post(link, data={"score": "1"}) as r:
            assert r.status == 410
    async with fserver.desk.sessions() as s:
        assert (await s.execute(select(Survey.score).where(Survey.ticket_id == ticket_id))).scalar_one() is None
        assert (await s.execute(select(FollowUp.id))).first() is None


async def test_a_low_score_by_link_opens_a_follow_up_for_the_queue_and_the_page_escapes_the_comment(fserver):
    anna = await operator(fserver.desk, "anna")
    ticket_id = await resolved_ticket(fserver.desk, anna)
    link = await _survey_link(fserver, ticket_id)
    async with aiohttp.ClientSession() as http:
        async with http.post(link, data={"score": "1", "comment": "<script>alert(1)</script> never again"}) as r:
            assert r.status == 200
        async with http.get(link) as r:
            page = await r.text()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    async with fserver.desk.sessions() as s:
        follow_up = (await s.execute(select(FollowUp).where(FollowUp.ticket_id == ticket_id))).scalar_one()
    assert follow_up.status == "open" and "low_score" in follow_up.reason


async def test_skips_unanswered_and_recently_surveyed_clients_and_cancels_on_reopen(fdesk):
    anna = await operator(fdesk, "anna")
    first = await resolved_ticket(fdesk, anna, user="c1")
    second = await resolved_ticket(fdesk, anna, "Another thing", user="c1")  # same client, same window
    receipt = await client_writes(fdesk, "Hello?", user="c2")  # nobody answered this one
    from bot.actions.tickets import resolve_ticket
    await resolve_ticket(fdesk, anna, receipt.ticket_id)
    reopened = await resolved_ticket(fdesk, anna, user="c3", channel="webchat")
    await client_writes(fdesk, "Actually it is still missing", user="c3", channel="webchat")
    from bot.actions.surveys import schedule_missed

    await schedule_missed(fdesk)  # no listeners run on this desk: the sweep plans them
    later = utcnow() + timedelta(hours=2)
    await send_due_surveys(fdesk, "http://desk", now=later)
    async with fdesk.sessions() as s:
        status = dict((await s.execute(select(Survey.ticket_id, Survey.status))).all())
        reasons = dict((await s.execute(select(Survey.ticket_id, Survey.skip_reason))).all())
    assert status[first] == "sent"
    assert (status[second], reasons[second]) == ("skipped", "recently_surveyed")
    assert (status[receipt.ticket_id], reasons[receipt.ticket_id]) == ("skipped", "no_reply")
    assert reopened not in status or status[reopened] == "cancelled"
