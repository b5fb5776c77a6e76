"""Migration 0014: outbox rows get their message's ticket (for the claim's order check); it upgrades,
downgrades and upgrades again."""
from datetime import datetime, timezone

from sqlalchemy import insert, inspect, select, text

from bot.storage.engine import create_engine
from bot.storage.migrate import downgrade, upgrade
from bot.storage.models import Client, OutboxItem, Queue, Ticket

AT = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


async def outbox_columns(conn) -> set[str]:
    return {c["name"] for c in await conn.run_sync(lambda c: inspect(c).get_columns("outbox"))}


async def test_queued_replies_get_their_ticket_and_the_migration_downgrades(database_url):
    engine = create_engine(database_url)
    try:
        await upgrade(engine, "0013_ticket_chat_index")
        async with engine.begin() as conn:
            queue = (await conn.execute(insert(Queue).values(name="general", title="General").returning(Queue.id))).scalar_one()
            client = (await conn.execute(insert(Client).values(created_at=AT).returning(Client.id))).scalar_one()
            tickets = [(await conn.execute(insert(Ticket).values(
                number=7000 + n, public_id=f"t{n}", client_id=client, channel="telegram", chat_id="42", status="open",
                queue_id=queue, created_at=AT, updated_at=AT, last_message_at=AT).returning(Ticket.id))).scalar_one()
                for n in (1, 2)]
            # Written with the columns of revision 0013 (the models already know the new one).
            for n, ticket in enumerate(tickets + tickets):
                message = (await conn.execute(text(
                    "INSERT INTO messages (ticket_id, channel, direction, author_kind, text, delivery_status, delivery_error, "
                    "created_at, raw_key, html_key, folded_text, automated, choices) VALUES (:t, 'telegram', 'out', 'operator', "
                    ":x, 'queued', '', :at, '', '', '', false, '[]') "
                    "RETURNING id"), {"t": ticket, "x": f"reply {n}", "at": AT})).scalar_one()
                await conn.execute(text("INSERT INTO outbox (message_id, channel, status, attempts, next_attempt_at, "
                                        "last_error, created_at) VALUES (:m, 'telegram', 'pending', 0, :at, '', :at)"),
                                   {"m": message, "at": AT})
        await upgrade(engine)
        async with engine.connect() as conn:
            rows = (await conn.execute(select(OutboxItem.ticket_id).order_by(OutboxItem.id))).scalars().all()
            assert rows == tickets + tickets  # each row names its message's ticket
        await downgrade(engine, "0013_ticket_chat_index")
        async with engine.connect() as conn:
            assert "ticket_id" not in await outbox_columns(conn)
            assert (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one() == 4  # nothing lost
        await upgrade(engine)
        async with engine.connect() as conn:
            assert "ticket_id" in await outbox_columns(conn)
    finally:
        await engine.dispose()
