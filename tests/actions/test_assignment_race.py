"""No double assignment: several "processes" (own engines and connections) race over the same backlog.

On PostgreSQL this is real concurrency: row locks with SKIP LOCKED on tickets, FOR NO KEY UPDATE on the
chosen operator, a versioned conditional update. On SQLite the versioned update and the retry
on a stale snapshot give the same guarantee.
"""
import asyncio

import pytest
from sqlalchemy import func, select

from bot.actions.assignment import assign_backlog, assign_ticket
from bot.actions.context import Desk
from bot.actions.routing import route_ticket
from bot.events import EventBus
from bot.storage.engine import create_engine, session_factory
from bot.storage.models import AuditEvent, Ticket, utcnow
from tests.actions.routing_helpers import add_operator, client_writes, close_desk, fixed_router, open_desk

PROCESSES = 3
TICKETS = 16
OPERATORS = 4
CAPACITY = 3


@pytest.fixture
async def desk(tmp_path, database_url):
    desk = await open_desk(tmp_path, database_url, router={"assignment": {"presence_grace_seconds": 3600}})
    yield desk
    await close_desk(desk)


def other_process(desk: Desk) -> Desk:
    """The same database through a separate engine: its own connections, as another `helpline run` has."""
    return Desk(session_factory(create_engine(desk.settings.database_url)), EventBus(), desk.settings, desk.files)


async def setup_backlog(desk, now) -> list[int]:
    for i in range(OPERATORS):
        await add_operator(desk, f"op{i}", capacity={"webchat": CAPACITY}, now=now)
    tickets = []
    for i in range(TICKETS):
        ticket_id = await client_writes(desk, f"Where is parcel {i}?")
        await route_ticket(desk, fixed_router("delivery"), ticket_id, now)
        tickets.append(ticket_id)
    return tickets


async def check_no_double_assignment(desk, placed) -> None:
    assert len({p.ticket_id for p in placed}) == len(placed), "a ticket was assigned twice"
    assert len(placed) == OPERATORS * CAPACITY  # every seat filled, none overfilled
    async with desk.sessions() as s:
        per_ticket = (await s.execute(select(AuditEvent.ticket_id, func.count()).where(AuditEvent.kind == "assigned")
                                      .group_by(AuditEvent.ticket_id))).all()
        per_operator = (await s.execute(select(Ticket.assignee_id, func.count()).where(Ticket.assignee_id.is_not(None))
                                        .group_by(Ticket.assignee_id))).all()
    assert all(n == 1 for _, n in per_ticket) and len(per_ticket) == len(placed)
    assert sorted(n for _, n in per_operator) == [CAPACITY] * OPERATORS
    held = {p.ticket_id: p.operator_id for p in placed}
    async with desk.sessions() as s:
        stored = dict((await s.execute(select(Ticket.id, Ticket.assignee_id).where(Ticket.assignee_id.is_not(None)))).all())
    assert stored == held


async def test_racing_assigners_never_give_a_ticket_to_two_operators(desk):
    now = utcnow()
    tickets = await setup_backlog(desk, now)
    processes = [other_process(desk) for _ in range(PROCESSES)]
    try:
        results = await asyncio.gather(*(assign_ticket(p, t, now) for t in tickets for p in processes))
    finally:
        for p in processes:
            await p.sessions.kw["bind"].dispose()
    await check_no_double_assignment(desk, [r for r in results if r])


async def test_racing_backlog_passes_fill_every_seat_once(desk):
    now = utcnow()
    await setup_backlog(desk, now)
    processes = [other_process(desk) for _ in range(PROCESSES)]
    try:
        results = await asyncio.gather(*(assign_backlog(p, now) for p in processes))
    finally:
        for p in processes:
            await p.sessions.kw["bind"].dispose()
    await check_no_double_assignment(desk, [placed for batch in results for placed in batch])
