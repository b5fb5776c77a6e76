"""The router gives tickets of difficult and VIP clients their configured priority, says so in the
decision's reason, and the queue's backlog is handed out highest priority first."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.actions.assignment import assign_backlog
from bot.actions.routing import route_ticket
from bot.actions.segments import pin_segment
from bot.errors import ConfigError
from bot.storage.models import RoutingDecision, Ticket, utcnow
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
