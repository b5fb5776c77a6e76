"""The unanswered questions page: what the bot could not answer, grouped, for supervisors and managers only."""
from __future__ import annotations

import html
import re

import aiohttp

from bot.storage.models import UnansweredQuestion
from sqlalchemy import select
from tests.channels.webchat.conftest import Chat
from tests.console.conftest import csrf_of
from tests.dialogue.conftest import QUEUES, bot_settings, start_bot_desk
from tests.dialogue.test_webchat import bot_turn, ticket_of


async def ask(chat: Chat, locale: str, text: str) -> int:
    """A web chat visitor asks the bot something it cannot answer; the ticket's number."""
    visitor = await chat.visitor(locale=locale)
    await bot_turn(visitor, "q1", text)
    return (await ticket_of(chat, visitor)).number


def rows(page: str) -> list[str]:
    return [html.unescape(r) for r in re.findall(r'<tr class="question-group">(.*?)</tr>', page, re.S)]


async def test_managers_see_grouped_questions_and_mark_them_covered(tmp_path, database_url):
    server, runner = await start_bot_desk(bot_settings(tmp_path, database_url))
    try:
        async with aiohttp.ClientSession() as session:
            chat = Chat(server, session)
            first = await ask(chat, "en-US", "Do you sell second-hand cars?")
            second = await ask(chat, "en-GB", "do you sell SECOND-HAND cars ?")
            latvian = await ask(chat, "lv", "Vai jūs pārdodat lietotas automašīnas?")
        queue = (await ticket_of_number(server, first))
        await server.add_operator("sara", role="supervisor", queues=QUEUES)
        await server.add_operator("otto", role="supervisor", queues=[q for q in QUEUES if q != queue])
        await server.add_operator("anna", queues=QUEUES)
        async with await server.logged_in("anna") as anna:
            async with anna.get(f"{server.url}/console/unanswered") as r:
                assert r.status == 403  # operators without a managing role
        async with await server.logged_in("otto") as otto:
            async with otto.get(f"{server.url}/console/unanswered") as r:
                page = await r.text()
            cars = next(row for row in rows(page) if "second-hand cars" in row.lower())
            assert f"#{first}" not in cars and "2 in queues you do not work in" in cars  # no links to hidden tickets
        async with await server.logged_in("sara") as sara:
            async with sara.get(f"{server.url}/console/unanswered") as r:
                assert r.status == 200
                page = await r.text()
            groups = rows(page)
            assert len(groups) == 2
            cars = next(row for row in groups if "second-hand cars" in row.lower())
            assert re.search(r'class="numeric count">2<', cars) and f"#{first}" in cars and f"#{second}" in cars
            assert "no match" in cars and "<td>en</td>" in cars
            async with sara.get(f"{server.url}/console/unanswered?language=lv") as r:
                only_latvian = rows(await r.text())
            assert len(only_latvian) == 1 and f"#{latvian}" in only_latvian[0] and "lietotas" in only_latvian[0]
            form = re.search(r'<tr class="question-group">(?:(?!</tr>).)*?(?i:second-hand cars).*?</form>', page, re.S).group(0)
            ids = re.findall(r'name="id" value="(\d+)"', form)
            assert len(ids) == 2
            data = [("csrf_token", csrf_of(page)), ("article", "no-such-article"), *(("id", i) for i in ids)]
            async with sara.post(f"{server.url}/console/unanswered/cover", data=data, allow_redirects=False) as r:
                assert r.status == 400 and "no such article" in await r.text()
            data[1] = ("article", "delivery-cost")
            async with sara.post(f"{server.url}/console/unanswered/cover", data=data, allow_redirects=False) as r:
                assert r.status == 303
            async with sara.get(f"{server.url}/console/unanswered") as r:
                left = rows(await r.text())
            assert len(left) == 1 and "lietotas" in left[0]
            async with sara.get(f"{server.url}/console/unanswered?show=covered") as r:
                covered = rows(await r.text())
            assert len(covered) == 1 and "second-hand cars" in covered[0].lower() and "delivery-cost" in covered[0]
            async with sara.get(f"{server.url}/console/unanswered?from=2020-01-01&to=2020-01-31") as r:
                assert r.status == 200 and rows(await r.text()) == []  # another period: nothing
            async with sara.get(f"{server.url}/console/unanswered?from=2020-02-01&to=2020-01-01") as r:
                assert r.status == 400 and "before the start" in await r.text()
        async with server.desk.sessions() as s:
            marked = (await s.execute(select(UnansweredQuestion.covered_by, UnansweredQuestion.covered_article)
                                      .where(UnansweredQuestion.covered_at.is_not(None)))).all()
        assert len(marked) == 2 and {article for _, article in marked} == {"delivery-cost"}
    finally:
        await runner.cleanup()


async def ticket_of_number(server, number: int) -> str:
    """The queue name of a ticket."""
    from bot.storage.models import Queue, Ticket

    async with server.desk.sessions() as s:
        return (await s.execute(select(Queue.name).join(Ticket, Ticket.queue_id == Queue.id).where(Ticket.number == number))).scalar_one()
