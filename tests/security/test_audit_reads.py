"""Reads added to the audit trail: the notes API (per ticket) and the client segment API (per client),
throttled like the others to one row per operator, ticket (or client) and hour."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.actions import audit
from bot.actions.audit import client_audit, record_read
from bot.actions.operators import create_api_token
from tests.security.test_audit import client_writes, get, reads


async def test_reading_notes_through_the_api_is_recorded_once_an_hour(live_server):
    desk = live_server.desk
    await live_server.add_operator("anna")
    await live_server.add_operator("olga", queues=("billing",))
    ticket_id, number, client_id = await client_writes(desk, "v1", "hello")
    olga = await create_api_token(desk, "olga")
    assert (await get(live_server, f"/api/v1/tickets/{number}/notes", token=olga))[0] == 404
    assert await reads(desk) == []
    anna = await create_api_token(desk, "anna")
    for _ in range(2):
        assert (await get(live_server, f"/api/v1/tickets/{number}/notes", token=anna))[0] == 200
    assert [(r.ticket_id, r.data) for r in await reads(desk)] == [(ticket_id, {"client_id": client_id, "via": "api"})]


async def test_reading_a_client_segment_is_recorded_per_client_and_hour(live_server, monkeypatch, capsys):
    desk = live_server.desk
    await live_server.add_operator("boris", role="supervisor")
    await live_server.add_operator("anna")
    _, _, client_id = await client_writes(desk, "v1", "hello")
    _, _, other_id = await client_writes(desk, "v2", "hi")
    boris = await create_api_token(desk, "boris")
    anna = await create_api_token(desk, "anna")
    assert (await get(live_server, f"/api/v1/clients/{client_id}/segment", token=anna))[0] == 403
    assert (await get(live_server, "/api/v1/clients/999999/segment", token=boris))[0] == 404
    assert await reads(desk) == []
    for _ in range(2):
        assert (await get(live_server, f"/api/v1/clients/{client_id}/segment", token=boris))[0] == 200
    assert (await get(live_server, f"/api/v1/clients/{other_id}/segment", token=boris))[0] == 200
    rows = await reads(desk)
    assert [(r.ticket_id, r.data) for r in rows] == [
        (None, {"client_id": client_id, "via": "segment"}), (None, {"client_id": other_id, "via": "segment"})]
    later = datetime.now(timezone.utc) + audit.READ_WINDOW + timedelta(minutes=1)
    monkeypatch.setattr(audit, "utcnow", lambda: later)
    assert (await get(live_server, f"/api/v1/clients/{client_id}/segment", token=boris))[0] == 200
    entries = await client_audit(desk, client_id)
    assert [(e.kind, e.who, e.ticket_number, e.via) for e in entries] == [
        ("client_read", "boris", None, "segment"), ("client_read", "boris", None, "segment")]


async def test_a_read_of_a_missing_client_records_nothing(desk):
    assert await record_read(desk, 1, "segment", client_id=424242) is False
    assert await reads(desk) == []
