"""SLA deadlines in the database: yellow and red steps fire once, from rows, correct after a restart or a clock jump."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.actions.assignment import assign_ticket
from bot.actions.operators import viewer_of
from bot.actions.routing import route_ticket
from bot.actions.sla import fire_due, sync_ticket_sla
from bot.actions.tickets import reply_to_ticket
from bot.storage.models import Notification, Operator, SlaDeadline, TicketSla, utcnow
from bot.texts import stored_text
from sqlalchemy.orm import selectinload
from tests.actions.routing_helpers import (
    add_operator, audits, client_writes, close_desk, fixed_router, open_desk, ticket,
)

ROUTER = {
    "assignment": {"presence_grace_seconds": 3600},
    "sla": {"business_hours": False, "on_yellow": ["notify"], "on_red": ["notify", "raise_priority"],
            "targets": [{"first_response_minutes": 10, "next_response_minutes": 10, "resolution_minutes": 60},
                        {"queue": "delivery", "priority": "urgent", "first_response_minutes": 5}]},
}


@pytest.fixture
async def desk(tmp_path, database_url):
    desk = await open_desk(tmp_path, database_url, router=ROUTER)
    yield desk
    await close_desk(desk)


async def setup(desk):
    now = utcnow()
    boss = await add_operator(desk, "boss", role="supervisor", now=now)
    ticket_id = await client_writes(desk, "Where is my parcel?")
    await route_ticket(desk, fixed_router("delivery"), ticket_id, now)
    return now, boss, ticket_id


async def notes_for(desk, operator_id) -> list[str]:
    async with desk.sessions() as s:
        texts = (await s.execute(select(Notification.text).where(Notification.operator_id == operator_id)
                                 .order_by(Notification.id))).scalars()
        return [stored_text(text) for text in texts]  # stored as msgid and values; English here


async def deadlines(desk, ticket_id) -> dict[str, str]:
    async with desk.sessions() as s:
        rows = (await s.execute(select(SlaDeadline).where(SlaDeadline.ticket_id == ticket_id))).scalars()
        return {f"{r.clock}:{r.level}": r.state for r in rows}


async def light(desk, ticket_id) -> TicketSla:
    async with desk.sessions() as s:
        return await s.get(TicketSla, ticket_id)


async def test_routing_starts_the_clocks_as_rows_with_due_times(desk):
    now, _, ticket_id = await setup(desk)
    assert await deadlines(desk, ticket_id) == {"first_response:1": "pending", "first_response:2": "pending",
                                                "resolution:1": "pending", "resolution:2": "pending"}
    shown = await light(desk, ticket_id)
    assert shown.level == 0 and shown.clock == "first_response"
    assert abs((shown.red_at - now).total_seconds() - 600) < 1


async def test_yellow_then_red_fire_once_each_and_red_raises_the_priority(desk):
    now, boss, ticket_id = await setup(desk)
    assert await fire_due(desk, now + timedelta(minutes=5)) == 0
    assert await fire_due(desk, now + timedelta(minutes=8)) == 1
    assert len(await notes_for(desk, boss)) == 1 and "yellow" in (await notes_for(desk, boss))[0]
    assert await fire_due(desk, now + timedelta(minutes=9)) == 0  # already told
    assert await fire_due(desk, now + timedelta(minutes=11)) == 1
    [_, red] = await notes_for(desk, boss)
    assert red.startswith(f"#{(await ticket(desk, ticket_id)).number} is red: first response target reached")
    assert (await ticket(desk, ticket_id)).priority == "high"
    assert (await light(desk, ticket_id)).level == 2
    assert await audits(desk, "sla_red", ticket_id) == 1


async def test_after_downtime_only_the_highest_overdue_step_fires(desk):
    now, boss, ticket_id = await setup(desk)
    # Nobody looked for 70 minutes: first response yellow and red, resolution yellow and red are all owed.
    assert await fire_due(desk, now + timedelta(minutes=70)) == 1
    assert len(await notes_for(desk, boss)) == 1
    states = await deadlines(desk, ticket_id)
    assert sorted(states.values()) == ["fired", "skipped", "skipped", "skipped"]
    assert await audits(desk, "sla_red", ticket_id) == 1 and await audits(desk, "sla_yellow", ticket_id) == 0


async def test_a_restarted_desk_does_not_fire_again(desk, tmp_path):
    now, boss, ticket_id = await setup(desk)
    assert await fire_due(desk, now + timedelta(minutes=11)) == 1
    restarted = await open_desk(tmp_path, desk.settings.database_url, router=ROUTER)
    try:
        assert await fire_due(restarted, now + timedelta(minutes=12)) == 0
        assert await fire_due(restarted, now + timedelta(minutes=50)) == 1  # resolution turns yellow
    finally:
        await close_desk(restarted)
    assert len(await notes_for(desk, boss)) == 2


async def test_a_clock_jumping_back_fires_nothing_early(desk):
    now, boss, ticket_id = await setup(desk)
    assert await fire_due(desk, now - timedelta(hours=3)) == 0
    assert set((await deadlines(desk, ticket_id)).values()) == {"pending"}
    assert await fire_due(desk, now + timedelta(minutes=8)) == 1


async def test_a_reply_stops_the_response_clock_and_the_next_client_message_starts_another(desk):
    now, boss, ticket_id = await setup(desk)
    await assign_ticket(desk, ticket_id, now)
    async with desk.sessions() as s:
        op = (await s.execute(select(Operator).options(selectinload(Operator.queues)).where(Operator.id == boss))).scalar_one()
    await reply_to_ticket(desk, viewer_of(op), ticket_id, "It ships today.")
    await sync_ticket_sla(desk, ticket_id, now + timedelta(minutes=2))
    assert await deadlines(desk, ticket_id) == {}  # waiting for the client: nothing runs
    assert (await light(desk, ticket_id)).paused
    assert await fire_due(desk, now + timedelta(hours=5)) == 0
    t = await ticket(desk, ticket_id)
    async with desk.sessions() as s:
        client_id = t.client_id
    from bot.storage.models import ChannelIdentity
    async with desk.sessions() as s:
        user = (await s.execute(select(ChannelIdentity.external_id).where(ChannelIdentity.client_id == client_id))).scalar_one()
    await client_writes(desk, "Thanks, and the invoice?", user=user)
    await sync_ticket_sla(desk, ticket_id, utcnow())
    assert set(await deadlines(desk, ticket_id)) == {"next_response:1", "next_response:2", "resolution:1", "resolution:2"}


async def test_targets_follow_queue_and_priority(desk):
    from bot.routing_settings import sla_targets

    assert sla_targets(desk.settings, "delivery", "urgent").first_response == 300
    assert sla_targets(desk.settings, "delivery", "urgent").resolution == 3600
    assert sla_targets(desk.settings, "billing", "urgent").first_response == 600


async def test_a_batch_sync_keeps_each_tickets_clocks_apart(desk):
    """sync_tickets_sla reads a burst of tickets together; each still gets only its own timeline."""
    from bot.actions.sla import sync_tickets_sla

    now, boss, replied = await setup(desk)
    waiting = await client_writes(desk, "And my refund?")
    await route_ticket(desk, fixed_router("delivery"), waiting, now)
    unrouted = await client_writes(desk, "Nobody routed me")
    await assign_ticket(desk, replied, now)
    async with desk.sessions() as s:
        op = (await s.execute(select(Operator).options(selectinload(Operator.queues)).where(Operator.id == boss))).scalar_one()
    await reply_to_ticket(desk, viewer_of(op), replied, "It ships today.")
    await sync_tickets_sla(desk, [replied, waiting, unrouted, replied], now + timedelta(minutes=2))
    assert await deadlines(desk, replied) == {}  # waiting for the client: nothing runs
    assert (await light(desk, replied)).paused
    assert set(await deadlines(desk, waiting)) == {"first_response:1", "first_response:2", "resolution:1", "resolution:2"}
    assert not (await light(desk, waiting)).paused
    assert await light(desk, unrouted) is None
