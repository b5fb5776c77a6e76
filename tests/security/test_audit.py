"""Who read a client's data is recorded (console page, original, API, downloads), once an hour per
operator and ticket, and listed with exports and erasures to admins (API) and on the command line."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import aiohttp
from sqlalchemy import func, select

from bot.actions import audit
from bot.actions.audit import client_audit, record_read
from bot.actions.inbox import receive_message
from bot.actions.operators import create_api_token
from bot.actions.privacy import export_client
from bot.domain import Attachment, InboundMessage
from bot.storage.models import AuditEvent, StoredAttachment

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


async def client_writes(desk, user: str, text: str, attachments=()) -> tuple[int, int, int]:
    """(ticket id, ticket number, client id) of a message a web-chat visitor sent."""
    receipt = await receive_message(desk, InboundMessage(
        channel="webchat", user_id=user, chat_id=user, message_id=f"{user}:{text}", text=text,
        sent_at=datetime.now(timezone.utc), attachments=tuple(attachments)))
    async with desk.sessions() as s:
        from bot.storage.models import Ticket
        ticket = await s.get(Ticket, receipt.ticket_id)
    return ticket.id, ticket.number, ticket.client_id


async def reads(desk) -> list[AuditEvent]:
    async with desk.sessions() as s:
        return list((await s.execute(select(AuditEvent).where(AuditEvent.kind == "client_read")
                                     .order_by(AuditEvent.id))).scalars())


async def get(server, path: str, session=None, token: str = "") -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    own = session is None
    session = session or aiohttp.ClientSession()
    try:
        async with session.get(server.url + path, headers=headers, allow_redirects=False) as r:
            return r.status, await r.read()
    finally:
        if own:
            await session.close()


async def test_every_kind_of_read_is_recorded_once_an_hour_per_operator_and_ticket(live_server):
    desk = live_server.desk
    await live_server.add_operator("anna")
    await live_server.add_operator("boris", role="supervisor")
    ticket_id, number, client_id = await client_writes(desk, "v1", "my card number is 4111",
                                                      [Attachment("scan.png", "image/png", len(PNG), data=PNG)])
    async with desk.sessions() as s:
        attachment = (await s.execute(select(StoredAttachment.id))).scalar_one()
    token = await create_api_token(desk, "anna")
    async with await live_server.logged_in("anna") as anna:
        for _ in range(3):
            assert (await get(live_server, f"/console/tickets/{number}", anna))[0] == 200
        assert (await get(live_server, f"/console/attachments/{attachment}", anna)) == (200, PNG)
    assert (await get(live_server, f"/api/v1/tickets/{number}", token=token))[0] == 200
    assert (await get(live_server, f"/api/v1/tickets/{number}/messages", token=token))[0] == 200
    rows = await reads(desk)
    assert [(r.ticket_id, r.data) for r in rows] == [(ticket_id, {"client_id": client_id, "via": "console"})]
    async with await live_server.logged_in("boris") as boris:
        assert (await get(live_server, f"/console/attachments/{attachment}", boris))[0] == 200
    rows = await reads(desk)
    assert len(rows) == 2 and rows[1].data["via"] == "download" and rows[1].operator_id != rows[0].operator_id


async def test_a_read_an_hour_later_is_recorded_again_and_a_refused_read_is_not(live_server, monkeypatch):
    desk = live_server.desk
    await live_server.add_operator("anna")
    await live_server.add_operator("olga", queues=("billing",))
    _, number, _ = await client_writes(desk, "v1", "hello")
    token = await create_api_token(desk, "olga")
    assert (await get(live_server, f"/api/v1/tickets/{number}/messages", token=token))[0] == 404
    assert await reads(desk) == []
    anna_token = await create_api_token(desk, "anna")
    assert (await get(live_server, f"/api/v1/tickets/{number}", token=anna_token))[0] == 200
    later = datetime.now(timezone.utc) + audit.READ_WINDOW + timedelta(minutes=1)
    monkeypatch.setattr(audit, "utcnow", lambda: later)
    assert (await get(live_server, f"/api/v1/tickets/{number}", token=anna_token))[0] == 200
    assert [r.data["via"] for r in await reads(desk)] == ["api", "api"]


async def test_the_audit_trail_lists_reads_exports_and_erasures_to_admins_only(live_server):
    desk = live_server.desk
    await live_server.add_operator("anna")
    await live_server.add_operator("root", role="admin", queues=())
    ticket_id, number, client_id = await client_writes(desk, "v1", "hello")
    _, _, other_client = await client_writes(desk, "v2", "someone else")
    anna = await create_api_token(desk, "anna")
    root = await create_api_token(desk, "root")
    assert (await get(live_server, f"/api/v1/tickets/{number}", token=anna))[0] == 200
    assert (await get(live_server, f"/api/v1/clients/{client_id}/export", token=root))[0] == 200
    await export_client(desk, other_client, "cli:someone")
    status, body = await get(live_server, f"/api/v1/clients/{client_id}/audit", token=root)
    assert status == 200
    entries = json.loads(body)["entries"]
    assert [(e["kind"], e["who"], e["ticket"], e["via"]) for e in entries] == [
        ("client_exported", "api:root", None, ""), ("client_read", "anna", number, "api")]
    assert all(e["at"].endswith("Z") for e in entries)
    assert (await get(live_server, f"/api/v1/clients/{client_id}/audit", token=anna))[0] == 403
    assert (await get(live_server, f"/api/v1/clients/{client_id}/audit"))[0] == 401
    assert (await get(live_server, "/api/v1/clients/999999/audit", token=root))[0] == 404
    # Reading the trail is not itself a read of the client's messages.
    assert len(await client_audit(desk, client_id)) == 2


async def test_a_read_of_a_missing_ticket_records_nothing(desk):
    assert await record_read(desk, 1, "console", ticket_id=12345) is False
    assert await record_read(desk, 1, "download", attachment_id=12345) is False
    async with desk.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(AuditEvent))).scalar_one() == 0


def test_cli_lists_who_read_a_client(tmp_path, capsys):
    from bot.actions.operators import create_operator
    from bot.cli import _with_desk, main
    from bot.config import load_settings

    config = tmp_path / "helpline.toml"
    config.write_text('[desk]\ndata_dir = "data"\n[web]\nsecret_key = "audit-cli-secret-0123456789abcdefghij"\n'
                      '[[queues]]\nname = "general"\n')

    async def scene(desk):
        operator = await create_operator(desk, "anna", "Anna", "password-123", "operator", ["general"], ["en"])
        ticket_id, number, client_id = await client_writes(desk, "v1", "hello")
        await record_read(desk, operator, "console", ticket_id=ticket_id)
        await export_client(desk, client_id, "cli:root")
        return number, client_id

    number, client_id = asyncio.run(_with_desk(load_settings(config), scene))
    assert main(["audit", "--client", str(client_id), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "anna" in out and f"read ticket {number} (console)" in out and "cli:root" in out and "exported" in out
    assert "2 entries; 1 operator(s) read their data" in out
    assert main(["audit", "--client", "424242", "--config", str(config)]) == 2
    assert "there is no client 424242" in capsys.readouterr().err
