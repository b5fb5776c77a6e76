"""Operator loads kept by the database (migrations 0008, 0011) and the paged choice that reads them.

Assignment no longer counts every open ticket per decision: triggers on `tickets` keep
`operator_loads` in step, whoever writes the ticket, and triggers on those keep each queue
membership's copy of its operator's total and turn. These tests move tickets through every
action that changes who holds what and compare the kept counts with the tickets themselves.
"""
from collections import Counter
from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.actions import choice
from bot.actions.assignment import assign_ticket, preview_assignment, set_operator_status
from bot.actions.operators import viewer_of
from bot.actions.routing import route_ticket
from bot.actions.tickets import reopen_ticket, resolve_ticket, take_ticket, transfer_ticket
from bot.storage.models import Operator, OperatorLoad, Ticket, operator_queues, utcnow
from tests.actions.routing_helpers import add_operator, client_writes, close_desk, fixed_router, open_desk


@pytest.fixture
async def desk(tmp_path, database_url):
    desk = await open_desk(tmp_path, database_url, router={"assignment": {"presence_grace_seconds": 3600}})
    yield desk
    await close_desk(desk)


async def kept(desk) -> dict[tuple[int, str], int]:
    async with desk.sessions() as s:
        rows = await s.execute(select(OperatorLoad.operator_id, OperatorLoad.channel, OperatorLoad.held))
        return {(op, channel): held for op, channel, held in rows if held}


async def mirrors_agree(desk) -> bool:
    """Every membership's held and turn equal its operator's summed loads and last assignment (epoch: never)."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    async with desk.sessions() as s:
        loads = Counter()
        for op, held in await s.execute(select(OperatorLoad.operator_id, OperatorLoad.held)):
            loads[op] += held
        last = dict((await s.execute(select(Operator.id, Operator.last_assigned_at))).all())
        members = (await s.execute(select(operator_queues.c.operator_id, operator_queues.c.held,
                                          operator_queues.c.turn_at))).all()
    assert members
    return all(held == loads[op] and turn == (last[op] or epoch) for op, held, turn in members)


async def counted(desk) -> dict[tuple[int, str], int]:
    async with desk.sessions() as s:
        rows = await s.execute(select(Ticket.assignee_id, Ticket.channel).where(
            Ticket.assignee_id.is_not(None), Ticket.status.in_(("new", "open", "waiting"))))
        return dict(Counter((op, channel) for op, channel in rows))


async def viewer(desk, operator_id):
    async with desk.sessions() as s:
        op = (await s.execute(select(Operator).options(selectinload(Operator.queues))
                              .where(Operator.id == operator_id))).scalar_one()
    return viewer_of(op)


async def routed(desk, now, **kw) -> int:
    ticket_id = await client_writes(desk, **kw)
    await route_ticket(desk, fixed_router("delivery"), ticket_id, now)
    return ticket_id


async def test_kept_loads_follow_every_change_of_who_holds_a_ticket(desk):
    now = utcnow()
    ann = await add_operator(desk, "ann", now=now)
    bob = await add_operator(desk, "bob", now=now)
    first = await routed(desk, now)
    second = await routed(desk, now, channel="telegram")
    assert (await assign_ticket(desk, first, now)).operator_id == ann
    assert (await assign_ticket(desk, second, now)).operator_id == bob
    assert await kept(desk) == await counted(desk) == {(ann, "webchat"): 1, (bob, "telegram"): 1}
    assert await mirrors_agree(desk)

    supervisor = await viewer(desk, await add_operator(desk, "sue", role="supervisor", status="offline"))
    await transfer_ticket(desk, supervisor, second, operator="ann")
    assert await kept(desk) == await counted(desk) == {(ann, "webchat"): 1, (ann, "telegram"): 1}
    assert await mirrors_agree(desk)

    await resolve_ticket(desk, await viewer(desk, ann), first)
    assert await kept(desk) == await counted(desk) == {(ann, "telegram"): 1}
    assert await mirrors_agree(desk)
    await reopen_ticket(desk, await viewer(desk, ann), first)
    assert await kept(desk) == await counted(desk) == {(ann, "webchat"): 1, (ann, "telegram"): 1}
    assert await mirrors_agree(desk)

    third = await routed(desk, now)
    await take_ticket(desk, await viewer(desk, bob), third)
    assert await kept(desk) == await counted(desk) == {(ann, "webchat"): 1, (ann, "telegram"): 1, (bob, "webchat"): 1}
    assert await mirrors_agree(desk)

    await set_operator_status(desk, ann, "offline", now)  # her unanswered tickets go back to the queue
    assert await kept(desk) == await counted(desk) == {(bob, "webchat"): 1}
    assert await mirrors_agree(desk)


async def test_the_choice_reads_further_pages_until_nobody_later_can_beat_it(desk, monkeypatch):
    monkeypatch.setattr(choice, "PAGE", 2)
    now = utcnow()
    english = [await add_operator(desk, f"en{i}", now=now) for i in range(4)]
    german = await add_operator(desk, "de0", languages=("de",), now=now)
    for op_id in english[:2]:
        held = await routed(desk, now)
        await take_ticket(desk, await viewer(desk, op_id), held)
    # The least busy English speakers are on the first page; the only German speaker is read later.
    ticket_id = await routed(desk, now, language="de")
    assert await preview_assignment(desk, ticket_id, now) == german
    assert (await assign_ticket(desk, ticket_id, now)).operator_id == german
    # Two English tickets: the two operators holding nothing get them, one each, in id order.
    placed = [(await assign_ticket(desk, await routed(desk, now), now)).operator_id for _ in range(2)]
    assert placed == english[2:]


async def test_a_preview_writes_nothing(desk):
    now = utcnow()
    ann = await add_operator(desk, "ann", now=now)
    ticket_id = await routed(desk, now)
    assert await preview_assignment(desk, ticket_id, now) == ann
    async with desk.sessions() as s:
        assert (await s.get(Ticket, ticket_id)).assignee_id is None
    assert await kept(desk) == {}
