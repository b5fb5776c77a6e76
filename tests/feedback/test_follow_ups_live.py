"""A follow-up reaches the console live: the queue's supervisors and the managers get it over the
console websocket without reloading; operators and other queues' supervisors do not."""
from __future__ import annotations

import re
from datetime import timedelta

import aiohttp
from sqlalchemy import select

from bot.actions.surveys import answer_by_link, schedule_missed, send_due_surveys
from bot.actions.tickets import reply_to_ticket, resolve_ticket, transfer_ticket
from bot.storage.models import Message, Survey, Ticket, utcnow
from tests.console.conftest import frame
from tests.feedback.conftest import client_writes, operator


async def _low_score(desk, root, user: str, queue: str, comment: str) -> int:
    """A ticket of ``queue`` resolved, surveyed and answered 1 by link: its number."""
    receipt = await client_writes(desk, "My order is late", user=user)
    if queue != "general":
        await transfer_ticket(desk, root, receipt.ticket_id, queue=queue)
    await reply_to_ticket(desk, root, receipt.ticket_id, "Sorry, it is on its way.")
    await resolve_ticket(desk, root, receipt.ticket_id)
    await schedule_missed(desk)
    await send_due_surveys(desk, "http://desk.test", now=utcnow() + timedelta(hours=2))
    async with desk.sessions() as s:
        text = (await s.execute(select(Message.text).join(Survey, Survey.message_id == Message.id)
                                .where(Survey.ticket_id == receipt.ticket_id))).scalar_one()
        number = (await s.get(Ticket, receipt.ticket_id)).number
    await answer_by_link(desk, re.search(r"/survey/([\w-]+)", text).group(1), 1, comment)
    return number


async def _socket(server, http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(f"{server.url}/console/ws", origin=server.url)
    await ws.send_json({"type": "ping"})
    assert await frame(ws) == {"type": "pong"}  # the hub knows the socket from here on
    return ws


async def _frames_until(ws, kind: str, ticket: int) -> list[dict]:
    """Every frame up to the first of ``kind`` about ``ticket`` (a sentinel sent after what is checked)."""
    seen = []
    while True:
        f = await frame(ws)
        seen.append(f)
        if f["type"] == kind and f[kind].get("number", f[kind].get("ticket")) == ticket:
            return seen


async def test_the_queue_supervisor_and_managers_see_a_new_follow_up_without_reloading(fserver):
    desk = fserver.desk
    root = await operator(desk, "root", role="admin", queues=("general", "billing"))
    for name, role, queues in (("olga", "supervisor", ("general",)), ("bill", "supervisor", ("billing",)),
                               ("mia", "manager", ()), ("anna", "operator", ("general",))):
        await operator(desk, name, role=role, queues=queues)
    sessions = {name: await fserver.logged_in(name) for name in ("olga", "bill", "mia", "anna")}
    try:
        sockets = {name: await _socket(fserver, http) for name, http in sessions.items()}
        number = await _low_score(desk, root, "client-1", "general", "Nobody <i>helped</i> me")

        for name in ("olga", "mia"):
            pushed = (await frame(sockets[name], "follow_up"))["follow_up"]
            assert (pushed["ticket"], pushed["queue"], pushed["score"]) == (number, "general", 1)
            assert pushed["reason"] == "low_score" and pushed["detail"] == "score 1: Nobody <i>helped</i> me"

        # Sentinels published after it: what came before them on the other sockets is all they were sent.
        billing_number = await _low_score(desk, root, "client-2", "billing", "")
        seen = await _frames_until(sockets["bill"], "follow_up", billing_number)
        assert [f["follow_up"]["ticket"] for f in seen if f["type"] == "follow_up"] == [billing_number]
        assert (await frame(sockets["mia"], "follow_up"))["follow_up"]["ticket"] == billing_number
        sentinel = await client_writes(desk, "A new question", user="client-3")
        async with desk.sessions() as s:
            sentinel_number = (await s.get(Ticket, sentinel.ticket_id)).number
        seen = await _frames_until(sockets["anna"], "ticket", sentinel_number)
        assert [f for f in seen if f["type"] == "follow_up"] == []
        assert seen[0]["type"] == "ticket"  # she did get the live traffic of her queue all along
    finally:
        for http in sessions.values():
            await http.close()
