"""Follow-ups in the console: the queue's supervisors see a low score's follow-up and close it with an outcome."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.actions.followups import close_follow_up
from bot.actions.surveys import answer_by_link, schedule_missed, send_due_surveys
from bot.errors import InvalidInput, NotFound
from bot.storage.models import FollowUp, Message, Survey, Ticket, utcnow
from tests.feedback.conftest import operator, resolved_ticket

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _low_score(desk, viewer) -> int:
    ticket_id = await resolved_ticket(desk, viewer, "My order is <b>late</b>")
    await schedule_missed(desk)
    await send_due_surveys(desk, "http://desk.test", now=utcnow() + timedelta(hours=2))
    async with desk.sessions() as s:
        text = (await s.execute(select(Message.text).join(Survey, Survey.message_id == Message.id))).scalar_one()
    await answer_by_link(desk, re.search(r"/survey/([\w-]+)", text).group(1), 1, "Nobody <i>helped</i>")
    return ticket_id


async def test_the_queue_supervisor_sees_and_closes_the_follow_up(fserver):
    desk = fserver.desk
    anna = await operator(desk, "anna", queues=("general",))
    await operator(desk, "olga", role="supervisor", queues=("general",))
    await operator(desk, "bill", role="supervisor", queues=("billing",))
    ticket_id = await _low_score(desk, anna)
    async with desk.sessions() as s:
        number = (await s.get(Ticket, ticket_id)).number
    async with await fserver.logged_in("bill") as http:  # another queue's supervisor
        async with http.get(f"{fserver.url}/console/follow-ups") as r:
            assert "Nothing to follow up" in await r.text()
    async with await fserver.logged_in("anna") as http:
        async with http.get(f"{fserver.url}/console/follow-ups") as r:
            assert r.status == 403
        async with http.get(f"{fserver.url}/console/tickets/{number}") as r:
            page = await r.text()
        assert "Follow-up open (low score" in page and 'score-chip score-1">1/5' in page
    async with await fserver.logged_in("olga") as http:
        async with http.get(f"{fserver.url}/console/follow-ups") as r:
            page = await r.text()
        assert f"#{number}" in page and "Nobody &lt;i&gt;helped&lt;/i&gt;" in page
        follow_up = re.search(r'/console/follow-ups/(\d+)/done', page).group(1)
        async with http.post(f"{fserver.url}/console/follow-ups/{follow_up}/done",
                             data={"csrf_token": CSRF.search(page).group(1), "outcome": "Called her, sent a voucher"}) as r:
            page = await r.text()
        assert "Nothing to follow up" in page
        async with http.get(f"{fserver.url}/console/follow-ups?status=done") as r:
            assert "Called her, sent a voucher" in await r.text()
    async with desk.sessions() as s:
        row = (await s.execute(select(FollowUp))).scalar_one()
    assert (row.status, row.outcome) == ("done", "Called her, sent a voucher")


async def test_closing_needs_an_outcome_and_the_right_queue(fdesk):
    anna = await operator(fdesk, "anna", queues=("general",))
    olga = await operator(fdesk, "olga", role="supervisor", queues=("general",))
    bill = await operator(fdesk, "bill", role="supervisor", queues=("billing",))
    await _low_score(fdesk, anna)
    async with fdesk.sessions() as s:
        follow_up = (await s.execute(select(FollowUp.id))).scalar_one()
    with pytest.raises(NotFound):
        await close_follow_up(fdesk, bill, follow_up, "done")
    with pytest.raises(InvalidInput):
        await close_follow_up(fdesk, olga, follow_up, "   ")
    await close_follow_up(fdesk, olga, follow_up, "Refunded")
