"""The SLA state stored on the light row (migration 0012) gives the clocks a replay of the whole timeline gives.

Client follow-ups carry the stored state on without a replay; a reply, a resolve or reopen and a
re-dated message make the next sync replay the timeline again; either way the clocks are those of
the full timeline.
"""
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from bot.actions.assignment import assign_ticket
from bot.actions.operators import viewer_of
from bot.actions.routing import route_ticket
from bot.actions.sla import sync_ticket_sla
from bot.actions.sla_rows import stored_state
from bot.actions.tickets import reopen_ticket, reply_to_ticket, resolve_ticket
from bot.routing_settings import sla_calendar, sla_targets
from bot.storage import routing_queries as rq
from bot.storage.models import Message, Operator, Queue, Ticket, TicketSla, utcnow
from router.sla import clocks, clocks_of
from tests.actions.routing_helpers import add_operator, client_writes, close_desk, fixed_router, open_desk

ROUTER = {
    "assignment": {"presence_grace_seconds": 3600},
    "sla": {"business_hours": False, "on_yellow": ["notify"], "on_red": ["notify"],
            "targets": [{"first_response_minutes": 10, "next_response_minutes": 10, "resolution_minutes": 60}]},
}


@pytest.fixture
async def desk(tmp_path, database_url):
    desk = await open_desk(tmp_path, database_url, router=ROUTER)
    yield desk
    await close_desk(desk)


async def synced(desk, ticket_id: int, later: timedelta = timedelta(minutes=3)) -> bool:
    """Sync, then check the stored clocks against a replay; whether the stored state is good afterwards."""
    now = utcnow() + later
    await sync_ticket_sla(desk, ticket_id, now)
    async with desk.sessions() as s:
        ticket = await s.get(Ticket, ticket_id)
        row = await s.get(TicketSla, ticket_id)
        queue = (await s.execute(select(Queue.name).where(Queue.id == ticket.queue_id))).scalar_one()
        targets, calendar = sla_targets(desk.settings, queue, ticket.priority), sla_calendar(desk.settings)
        replayed = clocks(await rq.timeline(s, ticket), targets, calendar, now)
        state = stored_state(row, ticket, now)
    if state is not None:
        assert clocks_of(state, targets, calendar, now) == replayed
    assert replayed and row.clock == min((c for c in replayed if c.running), key=lambda c: c.red_at,
                                         default=max(replayed, key=lambda c: c.level)).name
    return state is not None


async def good(desk, ticket_id: int) -> bool:
    async with desk.sessions() as s:
        row = await s.get(TicketSla, ticket_id)
        return row is not None and row.seen == row.events


async def test_follow_ups_carry_the_stored_state_and_other_changes_replay(desk):
    now = utcnow()
    boss = await add_operator(desk, "boss", role="supervisor", now=now)
    user = "state-client"
    ticket_id = await client_writes(desk, "Where is my parcel?", user=user)
    await route_ticket(desk, fixed_router("delivery"), ticket_id, now)
    assert not await good(desk, ticket_id)  # a new light row: the next sync replays and keeps the state
    assert await synced(desk, ticket_id)
    for text in ("Hello?", "Anyone there?", "Still waiting"):
        assert await client_writes(desk, text, user=user) == ticket_id
        assert await good(desk, ticket_id)  # carried on by the message's own transaction
        assert await synced(desk, ticket_id)
    await assign_ticket(desk, ticket_id, now)
    async with desk.sessions() as s:
        op = (await s.execute(select(Operator).options(selectinload(Operator.queues)).where(Operator.id == boss))).scalar_one()
    await reply_to_ticket(desk, viewer_of(op), ticket_id, "It ships today.")
    assert not await good(desk, ticket_id)  # a reply pauses the clocks: replayed
    assert await synced(desk, ticket_id)
    await client_writes(desk, "And the invoice?", user=user)
    assert await good(desk, ticket_id) and await synced(desk, ticket_id, timedelta(minutes=30))
    await resolve_ticket(desk, viewer_of(op), ticket_id)
    await reopen_ticket(desk, viewer_of(op), ticket_id)
    assert await synced(desk, ticket_id) and await good(desk, ticket_id)
    await client_writes(desk, "One more thing", user=user)
    assert await good(desk, ticket_id) and await synced(desk, ticket_id, timedelta(hours=2))


async def test_a_message_moved_back_in_time_makes_the_sync_replay(desk):
    now = utcnow()
    user = "early-client"
    ticket_id = await client_writes(desk, "Where is my parcel?", user=user)
    await route_ticket(desk, fixed_router("delivery"), ticket_id, now)
    await synced(desk, ticket_id)
    await client_writes(desk, "Hello?", user=user)
    assert await good(desk, ticket_id)
    async with desk.sessions.begin() as s:
        await s.execute(update(Message).where(Message.ticket_id == ticket_id, Message.text == "Hello?")
                        .values(created_at=now - timedelta(days=1)))
    assert not await good(desk, ticket_id)
    assert await synced(desk, ticket_id)
