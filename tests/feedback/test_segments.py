"""Client segments: the rules, recomputation from history, pinning and tags by admins (API, CSV), recorded changes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.actions.segments import import_segments, pin_segment, recompute_segments
from bot.errors import InvalidInput
from bot.feedback.config import SegmentSettings
from bot.feedback.segments import ClientHistory, decide
from bot.storage.models import ClientSegment, SegmentChange, Survey
from tests.console.api_client import ApiClient
from tests.feedback.conftest import client_writes, operator, resolved_ticket

NOW = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
RULES = SegmentSettings()


@pytest.mark.parametrize("history, expected", [
    (ClientHistory(), "dormant"),
    (ClientHistory(tickets=5, last_contact=NOW - timedelta(days=181), scores=(5, 5)), "dormant"),
    (ClientHistory(tickets=1, last_contact=NOW - timedelta(days=3), complaints=2), "difficult"),
    (ClientHistory(tickets=4, last_contact=NOW, scores=(1, 2, 5), low_scores=2), "difficult"),
    (ClientHistory(tickets=3, last_contact=NOW, scores=(5, 4)), "loyal"),
    (ClientHistory(tickets=2, last_contact=NOW, scores=(5, 5)), "core"),  # not a returning client yet
    (ClientHistory(tickets=6, last_contact=NOW, scores=(4, 4)), "core"),  # good, not great
    (ClientHistory(tickets=1, last_contact=NOW, complaints=1), "core"),
])
def test_the_rules(history, expected):
    assert decide(history, RULES, NOW)[0] == expected


async def test_segments_follow_history_pins_hold_and_every_change_is_recorded(fdesk):
    anna = await operator(fdesk, "anna")
    tickets = [await resolved_ticket(fdesk, anna, f"Question {i}", user="regular") for i in range(3)]
    await recompute_segments(fdesk)
    async with fdesk.sessions() as s:
        client_id = (await s.execute(select(ClientSegment.client_id))).scalar_one()
        assert (await s.get(ClientSegment, client_id)).segment == "core"
    async with fdesk.sessions() as s, s.begin():  # two excellent answers: a returning, happy client
        for ticket_id in tickets[:2]:
            s.add(Survey(ticket_id=ticket_id, client_id=client_id, channel="fakemail", status="answered", score=5,
                         answered_at=datetime.now(timezone.utc), comment="", skip_reason="", answered_via="link", language="en"))
    assert await recompute_segments(fdesk) == 1
    await pin_segment(fdesk, client_id, segment="difficult", add_tags=["VIP", "VIP", " press "], reason="disputes by phone")
    await recompute_segments(fdesk)  # the pin holds against the rules
    async with fdesk.sessions() as s:
        row = await s.get(ClientSegment, client_id)
        assert (row.segment, row.computed, row.pinned, row.tags) == ("difficult", "loyal", True, ["VIP", "press"])
    await pin_segment(fdesk, client_id, unpin=True, remove_tags=["press"])
    async with fdesk.sessions() as s:
        row = await s.get(ClientSegment, client_id)
        changes = [(c.old_segment, c.new_segment, c.source) for c in (await s.execute(
            select(SegmentChange).where(SegmentChange.client_id == client_id).order_by(SegmentChange.id))).scalars()]
    assert (row.segment, row.pinned, row.tags) == ("loyal", False, ["VIP"])
    assert changes == [("", "core", "rules"), ("core", "loyal", "rules"), ("loyal", "difficult", "cli"),
                       ("difficult", "loyal", "cli")]


async def test_csv_import_is_all_or_nothing(fdesk):
    await client_writes(fdesk, "hi", user="a")
    await client_writes(fdesk, "hi", user="b")
    async with fdesk.sessions() as s:
        from bot.storage.models import Client
        ids = list((await s.execute(select(Client.id).order_by(Client.id))).scalars())
    with pytest.raises(InvalidInput, match="line 3: unknown segment 'vip'"):
        await import_segments(fdesk, f"client_id,segment,tags\n{ids[0]},loyal,VIP\n{ids[1]},vip,\n")
    with pytest.raises(InvalidInput, match="unknown client id"):
        await import_segments(fdesk, f"client_id,segment,tags\n{ids[0]},loyal,\n999999,core,\n")
    async with fdesk.sessions() as s:
        assert (await s.execute(select(ClientSegment.client_id).where(ClientSegment.pinned.is_(True)))).first() is None
    assert await import_segments(fdesk, f"client_id,segment,tags\n{ids[0]},loyal,VIP;press\n{ids[1]},,watch\n") == 2
    async with fdesk.sessions() as s:
        rows = {r.client_id: r for r in (await s.execute(select(ClientSegment))).scalars()}
    assert (rows[ids[0]].segment, rows[ids[0]].pinned, rows[ids[0]].tags) == ("loyal", True, ["VIP", "press"])
    assert (rows[ids[1]].pinned, rows[ids[1]].tags) == (False, ["watch"])


async def test_admins_pin_by_api_and_the_client_card_shows_the_segment(fserver):
    from bot.actions.operators import create_api_token

    desk = fserver.desk
    await operator(desk, "boss", role="admin", queues=())
    await operator(desk, "anna")
    receipt = await client_writes(desk, "Hello")
    async with desk.sessions() as s:
        from bot.storage.models import Ticket
        ticket = await s.get(Ticket, receipt.ticket_id)
    api = ApiClient(fserver.url, await create_api_token(desk, "boss", "t"))
    try:
        reply = await api.post(f"/api/v1/clients/{ticket.client_id}/segment", {"segment": "loyal", "add_tag": "VIP"})
        assert reply.status == 200 and reply.body["segment"] == "loyal" and reply.body["pinned"] and reply.body["tags"] == ["VIP"]
        assert (await api.post(f"/api/v1/clients/{ticket.client_id}/segment", {"segment": "gold"})).status == 422
        assert (await api.get("/api/v1/clients/999999/segment")).status == 404
        operator_api = api.as_(await create_api_token(desk, "anna", "t"))
        assert (await operator_api.post(f"/api/v1/clients/{ticket.client_id}/segment", {"segment": "core"})).status == 403
    finally:
        await api.close()
    async with await fserver.logged_in("anna") as http:
        async with http.get(f"{fserver.url}/console/tickets/{ticket.number}") as r:
            page = await r.text()
    assert 'class="segment segment-loyal">loyal</span> <span class="badge">pinned</span> <span class="chip">VIP</span>' in page
