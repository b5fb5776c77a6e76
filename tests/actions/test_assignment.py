"""Queue -> operator in the database: routing decisions, capacity, language, offers, backlog, offline, steps."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.actions.assignment import (
    _Stale, _versioned, accept_offer, apply_step_timeouts, assign_backlog, assign_ticket, expire_offers,
    expire_presence, reject_offer, set_operator_status,
)
from bot.actions.context import unit_of_work
from bot.actions.operators import viewer_of
from bot.actions.routing import route_ticket, tickets_to_route
from bot.actions.tickets import reply_to_ticket, resolve_ticket
from bot.errors import InvalidInput
from bot.storage.models import Operator, Queue, RoutingDecision, Ticket, utcnow
from sqlalchemy.orm import selectinload
from tests.actions.routing_helpers import (
    add_operator, audits, client_writes, close_desk, fixed_router, open_desk, ticket, username_of,
)


@pytest.fixture
async def desk(tmp_path, database_url):
    desk = await open_desk(tmp_path, database_url, router={
        "assignment": {"presence_grace_seconds": 3600},
        "queues": {"delivery": {"offer_timeout_seconds": 60, "offer_channels": ["telegram"]},
                   "returns": {"step_timeout_seconds": 300, "on_step_timeout": "relax_then_fallback",
                               "fallback_queue": "general"},
                   "billing": {"strategy": "manual"}}})
    yield desk
    await close_desk(desk)


async def viewer(desk, operator_id):
    async with desk.sessions() as s:
        op = (await s.execute(select(Operator).options(selectinload(Operator.queues)).where(Operator.id == operator_id))).scalar_one()
    return viewer_of(op)


async def routed(desk, text="Where is my parcel?", queue="delivery", now=None, **kw) -> int:
    ticket_id = await client_writes(desk, text, **kw)
    await route_ticket(desk, fixed_router(queue), ticket_id, now or utcnow())
    return ticket_id


async def test_a_new_ticket_is_routed_with_its_reason_stored_and_given_to_the_least_busy_operator(desk):
    now = utcnow()
    busy = await add_operator(desk, "busy", now=now)
    free = await add_operator(desk, "free", now=now)
    first = await routed(desk, now=now)
    assert (await assign_ticket(desk, first, now)).operator_id == busy  # equal load: the lower id
    ticket_id = await client_writes(desk, "My parcel is late")
    assert await tickets_to_route(desk) == [ticket_id]
    decision = await route_ticket(desk, fixed_router("delivery"), ticket_id, now)
    assert decision.queue == "delivery" and decision.reason.startswith("classifier: delivery") and decision.confidence == 0.9
    assert await tickets_to_route(desk) == []
    assert await route_ticket(desk, fixed_router("billing"), ticket_id, now) is None  # routed once
    placed = await assign_ticket(desk, ticket_id, now)
    assert placed.operator_id == free and not placed.offered
    t = await ticket(desk, ticket_id)
    assert t.assignee_id == free and t.status == "open" and t.routed_at is not None
    async with desk.sessions() as s:
        [row] = (await s.execute(select(RoutingDecision).where(RoutingDecision.ticket_id == ticket_id))).scalars()
    assert row.text == "My parcel is late" and row.language == "en"


async def test_capacity_is_per_channel(desk):
    now = utcnow()
    anna = await add_operator(desk, "anna", capacity={"webchat": 1, "email": 5}, now=now)
    chat = await routed(desk, now=now)
    assert (await assign_ticket(desk, chat, now)).operator_id == anna
    second_chat = await routed(desk, now=now)
    assert await assign_ticket(desk, second_chat, now) is None
    email = await routed(desk, channel="email", now=now)
    assert (await assign_ticket(desk, email, now)).operator_id == anna


async def test_language_must_match(desk):
    now = utcnow()
    await add_operator(desk, "mark", languages=("en", "hu"), now=now)
    olga = await add_operator(desk, "olga", languages=("en", "ru"), now=now)
    ticket_id = await routed(desk, "Где моя посылка?", language="ru", now=now)
    assert (await assign_ticket(desk, ticket_id, now)).operator_id == olga
    lithuanian = await routed(desk, "Kur mano siunta?", language="lt", now=now)
    assert await assign_ticket(desk, lithuanian, now) is None


async def test_an_offer_rejected_or_timed_out_goes_to_the_next_operator(desk):
    now = utcnow()
    a = await add_operator(desk, "a", now=now)
    b = await add_operator(desk, "b", now=now)
    c = await add_operator(desk, "c", now=now)
    ticket_id = await routed(desk, channel="telegram", now=now)
    first = await assign_ticket(desk, ticket_id, now)
    assert first.offered and first.operator_id == a
    assert await assign_ticket(desk, ticket_id, now) is None  # reserved while the offer stands
    await reject_offer(desk, await viewer(desk, a), ticket_id, now)
    second = await assign_ticket(desk, ticket_id, now)
    assert second.operator_id == b and second.offered
    assert await expire_offers(desk, now + timedelta(seconds=30)) == 0
    assert await expire_offers(desk, now + timedelta(seconds=61)) == 1
    third = await assign_ticket(desk, ticket_id, now + timedelta(seconds=61))
    assert third.operator_id == c
    with pytest.raises(InvalidInput):
        await accept_offer(desk, await viewer(desk, b), ticket_id, now + timedelta(seconds=62))
    await accept_offer(desk, await viewer(desk, c), ticket_id, now + timedelta(seconds=62))
    t = await ticket(desk, ticket_id)
    assert t.assignee_id == c and t.offered_to_id is None
    assert await audits(desk, "offer_rejected", ticket_id) == 1 and await audits(desk, "offer_expired", ticket_id) == 1


async def test_offers_count_against_capacity_and_channels_without_offers_are_assigned_at_once(desk):
    now = utcnow()
    a = await add_operator(desk, "a", capacity={"telegram": 1, "webchat": 1}, now=now)
    offered = await routed(desk, channel="telegram", now=now)
    assert (await assign_ticket(desk, offered, now)).offered
    assert await assign_ticket(desk, await routed(desk, channel="telegram", now=now), now) is None
    direct = await assign_ticket(desk, await routed(desk, channel="webchat", now=now), now)
    assert direct.operator_id == a and not direct.offered


async def test_the_backlog_is_offered_again_the_moment_capacity_frees(desk):
    now = utcnow()
    a = await add_operator(desk, "a", capacity={"webchat": 1}, now=now)
    held = await routed(desk, now=now)
    await assign_ticket(desk, held, now)
    normal = await routed(desk, "Where is it?", now=now)
    urgent_id = await routed(desk, "URGENT parcel", now=now)
    async with unit_of_work(desk) as unit:  # an urgent one that came later is served first
        (await unit.session.get(Ticket, urgent_id)).priority = "urgent"
    assert await assign_backlog(desk, now) == []
    await resolve_ticket(desk, await viewer(desk, a), held)
    [placed] = await assign_backlog(desk, now)
    assert placed.ticket_id == urgent_id and placed.operator_id == a
    assert (await ticket(desk, normal)).assignee_id is None


async def test_going_offline_returns_unanswered_tickets_and_keeps_those_waiting_for_the_client(desk):
    now = utcnow()
    a = await add_operator(desk, "a", now=now)
    unanswered = await routed(desk, now=now)
    answered = await routed(desk, now=now)
    for t in (unanswered, answered):
        await assign_ticket(desk, t, now)
    await reply_to_ticket(desk, await viewer(desk, a), answered, "On its way!")
    returned = await set_operator_status(desk, a, "offline", now)
    assert returned == [unanswered]
    assert (await ticket(desk, unanswered)).assignee_id is None
    assert (await ticket(desk, answered)).assignee_id == a
    b = await add_operator(desk, "b", now=now)
    [placed] = await assign_backlog(desk, now)
    assert placed.ticket_id == unanswered and placed.operator_id == b


async def test_away_operators_keep_their_tickets_but_get_no_new_ones(desk):
    now = utcnow()
    a = await add_operator(desk, "a", now=now)
    held = await routed(desk, now=now)
    await assign_ticket(desk, held, now)
    await set_operator_status(desk, a, "away", now)
    assert await assign_ticket(desk, await routed(desk, now=now), now) is None
    assert (await ticket(desk, held)).assignee_id == a


async def test_a_vanished_console_counts_as_offline_after_the_grace_time(desk):
    now = utcnow()
    a = await add_operator(desk, "a", now=now)
    held = await routed(desk, now=now)
    await assign_ticket(desk, held, now)
    later = now + timedelta(seconds=desk.settings.router.assignment.presence_grace_seconds + 1)
    assert await assign_ticket(desk, await routed(desk, now=later), later) is None
    assert await expire_presence(desk, later) == [a]
    assert (await ticket(desk, held)).assignee_id is None
    async with desk.sessions() as s:
        assert (await s.get(Operator, a)).status == "offline"


async def test_a_step_timeout_relaxes_the_language_then_moves_to_the_fallback_queue(desk):
    now = utcnow()
    en_only = await add_operator(desk, "en-only", queues=("returns",), languages=("en",), capacity={"webchat": 1}, now=now)
    first = await routed(desk, "Noriu grąžinti prekę", queue="returns", language="lt", now=now)
    second = await routed(desk, "Grąžinimas", queue="returns", language="lt", now=now)
    assert await assign_ticket(desk, first, now) is None
    assert await apply_step_timeouts(desk, now + timedelta(seconds=299)) == 0
    assert await apply_step_timeouts(desk, now + timedelta(seconds=301)) == 2
    assert (await ticket(desk, first)).relaxed
    assert (await assign_ticket(desk, first, now + timedelta(seconds=301))).operator_id == en_only
    # The second one still finds nobody (the only operator is full): after another step, the fallback queue.
    assert await assign_ticket(desk, second, now + timedelta(seconds=301)) is None
    assert await apply_step_timeouts(desk, now + timedelta(seconds=602)) == 1
    t = await ticket(desk, second)
    async with desk.sessions() as s:
        assert (await s.get(Queue, t.queue_id)).name == "general" and not t.relaxed


async def test_manual_queues_wait_for_operators_to_take_tickets(desk):
    now = utcnow()
    await add_operator(desk, "a", queues=("billing",), now=now)
    ticket_id = await routed(desk, queue="billing", now=now)
    assert await assign_ticket(desk, ticket_id, now) is None
    assert await assign_backlog(desk, now) == []


async def test_a_write_made_on_a_stale_read_is_refused(desk):
    now = utcnow()
    ticket_id = await routed(desk, now=now)
    a = await add_operator(desk, "a", now=now)
    async with desk.sessions() as s:
        stale = await s.get(Ticket, ticket_id)  # read at version v
    await assign_ticket(desk, ticket_id, now)  # someone else writes: version v + 1
    with pytest.raises(_Stale):
        async with unit_of_work(desk) as unit:
            await _versioned(unit, stale, {"assignee_id": a})
    assert await username_of(desk, (await ticket(desk, ticket_id)).assignee_id) == "a"
