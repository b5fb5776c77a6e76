"""A follow-up reads in the supervisor's language: its reason, and the score beside the client's own words."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.actions.preferences import set_console_language
from bot.console.language import available_languages
from bot.storage.models import Operator
from tests.console.test_console_language import shown
from tests.feedback.conftest import operator
from tests.feedback.test_follow_ups_live import _low_score

pytestmark = pytest.mark.storage


async def test_a_hungarian_supervisor_reads_the_follow_up_in_hungarian(fserver):
    desk = fserver.desk
    root = await operator(desk, "root", role="admin", queues=("general",))
    await operator(desk, "reka", role="supervisor", queues=("general",))
    async with desk.sessions() as s:
        reka = (await s.execute(select(Operator.id).where(Operator.username == "reka"))).scalar_one()
    await set_console_language(desk, reka, "hu", available_languages())
    number = await _low_score(desk, root, "client-1", "general", "Senki nem segített")
    async with await fserver.logged_in("reka") as http:
        async with http.get(f"{fserver.url}/console/follow-ups") as r:
            page = shown(await r.text())
        async with http.get(f"{fserver.url}/console/tickets/{number}") as r:
            ticket = shown(await r.text())
    assert "alacsony értékelés" in page and "értékelés: 1: Senki nem segített" in page
    assert "low score" not in page and "score 1" not in page
    assert "értékelés: 1: Senki nem segített" in ticket and "score 1" not in ticket
