"""The console socket's catch-up shows a client's messages, so it is a read for the audit trail (once an hour)."""
from sqlalchemy import select

from bot.storage.models import AuditEvent
from tests.console.conftest import frame


async def _reads(desk) -> list[AuditEvent]:
    async with desk.sessions() as s:
        return list((await s.execute(select(AuditEvent).where(AuditEvent.kind == "client_read"))).scalars())


async def test_a_watch_that_catches_up_is_a_recorded_read_once_an_hour(console):
    await console.add_operator("anna")
    first = await console.client_writes("one")
    await console.client_writes("my card number is 4111")
    async with await console.logged_in("anna") as s, await console.socket(s) as ws:
        await ws.send_json({"type": "watch", "ticket": 1001, "after": 0})  # nothing to catch up on
        await frame(ws, "watching")
        assert await _reads(console.desk) == []
        for _ in range(2):
            await ws.send_json({"type": "watch", "ticket": 1001, "after": first.message_id})
            assert (await frame(ws, "message"))["message"]["text"] == "my card number is 4111"
    rows = await _reads(console.desk)
    assert [(r.ticket_id, r.data["via"]) for r in rows] == [(first.ticket_id, "live")]


async def test_a_refused_watch_records_nothing(console):
    await console.add_operator("olga", queues=("billing",))
    first = await console.client_writes("one")
    await console.client_writes("two")
    async with await console.logged_in("olga") as s, await console.socket(s) as ws:
        await ws.send_json({"type": "watch", "ticket": 1001, "after": first.message_id})
        assert (await frame(ws))["type"] == "error"
    assert await _reads(console.desk) == []
