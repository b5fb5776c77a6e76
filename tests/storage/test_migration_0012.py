"""Migration 0012: the SLA state columns and their triggers come and go with the revision.

After the downgrade no trigger names a dropped column (messages and audits can still be written);
upgrading again gives the columns back, every stored state waiting for a replay.
"""
from datetime import datetime, timezone

from sqlalchemy import inspect, insert, select

from bot.storage.engine import create_engine
from bot.storage.migrate import downgrade, upgrade
from bot.storage.models import AuditEvent, Client, Message, Queue, Ticket, TicketSla

AT = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)


async def columns(conn) -> set[str]:
    return {c["name"] for c in await conn.run_sync(lambda c: inspect(c).get_columns("ticket_sla"))}


async def write_timeline(conn, n: int) -> int:
    client = (await conn.execute(insert(Client).values(display_name="c", language="en").returning(Client.id))).scalar_one()
    queue = (await conn.execute(select(Queue.id).limit(1))).scalar_one_or_none() or (await conn.execute(
        insert(Queue).values(name="general").returning(Queue.id))).scalar_one()
    ticket = (await conn.execute(insert(Ticket).values(
        number=7000 + n, public_id=f"s{n}", client_id=client, channel="webchat", chat_id="c", status="open",
        queue_id=queue, created_at=AT, updated_at=AT, last_message_at=AT).returning(Ticket.id))).scalar_one()
    await conn.execute(insert(Message).values(ticket_id=ticket, channel="webchat", direction="in", author_kind="client",
                                              external_id=f"m{n}", delivery_status="received", created_at=AT))
    await conn.execute(insert(AuditEvent).values(kind="resolved", ticket_id=ticket, at=AT, data={}))
    return ticket


async def test_the_state_columns_and_triggers_downgrade_and_upgrade_again(database_url):
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            assert {"events", "seen", "spent"} <= await columns(conn)
            ticket = await write_timeline(conn, 1)
            await conn.execute(insert(TicketSla).values(ticket_id=ticket, updated_at=AT))
            await conn.execute(insert(Message).values(ticket_id=ticket, channel="webchat", direction="out",
                                                      author_kind="operator", delivery_status="sent", created_at=AT))
            assert (await conn.execute(select(TicketSla.events, TicketSla.seen))).one() == (1, -1)
        await downgrade(engine, "0011_queue_load_order")
        async with engine.begin() as conn:
            assert not {"events", "seen", "spent"} & await columns(conn)
            await write_timeline(conn, 2)
        await upgrade(engine)
        async with engine.begin() as conn:
            assert {(r.events, r.seen) for r in await conn.execute(select(TicketSla.events, TicketSla.seen))} == {(0, -1)}
    finally:
        await engine.dispose()
