"""The router gives tickets of difficult and VIP clients their configured priority, says so in the
decision's reason, and the queue's backlog is handed out highest priority first."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.actions.assignment import assign_backlog
from bot.actions.operators import create_operator, log_in
from bot.actions.routing import route_ticket
from bot.actions.segments import pin_segment, recompute_segments
from bot.actions.tickets import resolve_ticket
from bot.errors import ConfigError
from bot.storage.models import AuditEvent, RoutingDecision, Ticket, TicketSla, utcnow
from tests.actions.routing_helpers import add_operator, client_writes, close_desk, fixed_router, open_desk
from tests.conftest import make_settings

PRIORITY = {"segments": {"difficult": "high", "dormant": "low"}, "tags": {"vip": "urgent"}}


@pytest.fixture
async def desk(tmp_path, database_url):
    desk = await open_desk(tmp_path, database_url, router={"classify": False, "priority": PRIORITY,
                                                            "assignment": {"presence_grace_seconds": 3600}})
    yield desk
    await close_desk(desk)


async def _client_of(desk, ticket_id: int) -> int:
    async with desk.sessions() as s:
        return (await s.get(Ticket, ticket_id)).client_id


async def test_segments_and_tags_raise_the_priority_and_the_backlog_serves_it_first(desk):
    plain = await client_writes(desk, "Where is my parcel?")
    difficult = await client_writes(desk, "Where is my parcel? Third time I ask.")
    vip = await client_writes(desk, "Where is my parcel?")
    dormant_vip = await client_writes(desk, "Hello again, where is my parcel?")
    await pin_segment(desk, await _client_of(desk, difficult), segment="difficult")
    await pin_segment(desk, await _client_of(desk, vip), segment="loyal", tags=["VIP"])
    await pin_segment(desk, await _client_of(desk, dormant_vip), segment="dormant", tags=["Vip"])  # low never lowers
    now = utcnow()
    for ticket_id in (plain, difficult, vip, dormant_vip):
        await route_ticket(desk, fixed_router("delivery"), ticket_id, now)

    async with desk.sessions() as s:
        rows = {t.id: t.priority for t in (await s.execute(select(Ticket))).scalars()}
        reasons = {d.ticket_id: d.reason for d in (await s.execute(select(RoutingDecision))).scalars()}
    assert [rows[t] for t in (plain, difficult, vip, dormant_vip)] == ["normal", "high", "urgent", "urgent"]
    assert "priority" not in reasons[plain]
    assert reasons[difficult].endswith("; priority high (segment difficult)")
    assert reasons[vip].endswith("; priority urgent (tag VIP)")
    assert reasons[dormant_vip].endswith("; priority urgent (tag Vip)")

    # One operator with room for two: the urgent tickets go first though the others waited longer.
    olga = await add_operator(desk, "olga", capacity={"webchat": 2})
    placed = await assign_backlog(desk, now)
    assert sorted(p.ticket_id for p in placed if p.operator_id == olga) == sorted([vip, dormant_vip])


async def test_without_a_mapping_the_segment_changes_nothing(tmp_path, database_url):
    desk = await open_desk(tmp_path, database_url, router={"classify": False})
    try:
        ticket_id = await client_writes(desk)
        await pin_segment(desk, await _client_of(desk, ticket_id), segment="difficult", tags=["VIP"])
        decision = await route_ticket(desk, fixed_router("delivery"), ticket_id)
        async with desk.sessions() as s:
            assert (await s.get(Ticket, ticket_id)).priority == "normal"
        assert "priority" not in decision.reason
    finally:
        await close_desk(desk)


@pytest.mark.parametrize("priority, expected", [
    ({"segments": {"grumpy": "high"}}, r"router\.priority\.segments.*'grumpy'.*loyal, core, difficult, dormant"),
    ({"segments": {"difficult": "asap"}}, r"router\.priority\.segments\.difficult"),
    ({"tags": {"VIP": "urgent", "vip": "high"}}, r"router\.priority\.tags.*given twice"),
    ({"tags": {" ": "high"}}, r"router\.priority\.tags.*empty"),
])
def test_a_bad_priority_mapping_is_refused_with_its_key(tmp_path, priority, expected):
    with pytest.raises(ConfigError, match=expected):
        make_settings(tmp_path, "sqlite+aiosqlite:///unused.db", router={"priority": priority})


async def _decision_reason(desk, ticket_id: int) -> str:
    async with desk.sessions() as s:
        return (await s.execute(select(RoutingDecision.reason).where(RoutingDecision.ticket_id == ticket_id)
                                .order_by(RoutingDecision.id.desc()).limit(1))).scalar_one()


async def _raises(desk, ticket_id: int) -> list[dict]:
    async with desk.sessions() as s:
        return list((await s.execute(select(AuditEvent.data).where(AuditEvent.ticket_id == ticket_id,
                                                                   AuditEvent.kind == "priority_raised"))).scalars())


async def test_pinning_vip_later_raises_the_open_ticket_its_sla_and_its_place_in_the_backlog(tmp_path, database_url):
    sla = {"business_hours": False, "targets": [{"priority": "urgent", "first_response_minutes": 5},
                                                 {"first_response_minutes": 60}]}
    desk = await open_desk(tmp_path, database_url, router={"classify": False, "priority": PRIORITY, "sla": sla,
                                                            "assignment": {"presence_grace_seconds": 3600}})
    try:
        earlier = await client_writes(desk, "Where is my parcel?")
        later_vip = await client_writes(desk, "Where is my parcel? I ordered a week ago.")
        now = utcnow()
        for ticket_id in (earlier, later_vip):
            await route_ticket(desk, fixed_router("delivery"), ticket_id, now)
        async with desk.sessions() as s:
            before = (await s.get(TicketSla, later_vip)).red_at

        await pin_segment(desk, await _client_of(desk, later_vip), add_tags=["VIP"], source="api")

        async with desk.sessions() as s:
            priorities = {t.id: t.priority for t in (await s.execute(select(Ticket))).scalars()}
            after = (await s.get(TicketSla, later_vip)).red_at
        assert priorities == {earlier: "normal", later_vip: "urgent"}
        assert await _raises(desk, later_vip) == [{"from": "normal", "priority": "urgent", "reason": "priority urgent (tag VIP)"}]
        assert (await _decision_reason(desk, later_vip)).endswith("; priority urgent (tag VIP)")
        assert before - after == timedelta(minutes=55)  # the urgent target now runs

        # Only raised: a segment mapping to less leaves the urgent ticket and its audit alone.
        await pin_segment(desk, await _client_of(desk, later_vip), segment="difficult")
        async with desk.sessions() as s:
            assert (await s.get(Ticket, later_vip)).priority == "urgent"
        assert len(await _raises(desk, later_vip)) == 1

        olga = await add_operator(desk, "olga", capacity={"webchat": 1})
        placed = await assign_backlog(desk, utcnow())
        assert [p.ticket_id for p in placed if p.operator_id == olga] == [later_vip]
    finally:
        await close_desk(desk)


async def test_a_segment_the_rules_give_later_raises_open_tickets_but_not_unrouted_or_resolved_ones(tmp_path, database_url):
    desk = await open_desk(tmp_path, database_url, router={"classify": False, "priority": {"segments": {"core": "high"}}})
    try:
        routed = await client_writes(desk, "Where is my parcel?", user="regular")
        resolved = await client_writes(desk, "Where is my invoice?", user="former")
        for ticket_id in (routed, resolved):
            await route_ticket(desk, fixed_router("delivery"), ticket_id)
        await create_operator(desk, "root", "Root", "password-123", "admin", [], ["en"])
        await resolve_ticket(desk, (await log_in(desk, "root", "password-123"))[1], resolved)
        unrouted = await client_writes(desk, "And my refund?", user="newcomer")
        clients = [await _client_of(desk, t) for t in (routed, resolved, unrouted)]

        assert await recompute_segments(desk, clients) == 3  # all are "core" now

        async with desk.sessions() as s:
            assert (await s.get(Ticket, routed)).priority == "high"
            assert (await s.get(Ticket, resolved)).priority == "normal"
            assert (await s.get(Ticket, unrouted)).priority == "normal"  # the router applies it when it places it
        assert (await _decision_reason(desk, routed)).endswith("; priority high (segment core)")
        assert await _raises(desk, unrouted) == []
        decision = await route_ticket(desk, fixed_router("delivery"), unrouted)
        assert decision.reason.endswith("; priority high (segment core)")
    finally:
        await close_desk(desk)
