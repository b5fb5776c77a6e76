"""Migration 0011: queue memberships mirror their operator's load and turn; it upgrades, downgrades and upgrades again.

The mirrors are filled from the rows already there, kept by triggers afterwards (a new load, a new
assignment, a membership added later), and the downgrade leaves no trigger behind that names a
dropped column (tickets can still be written).
"""
from datetime import datetime, timezone

from sqlalchemy import insert, inspect, select, text, update

from bot.storage.engine import create_engine
from bot.storage.migrate import downgrade, upgrade
from bot.storage.models import Client, Operator, Queue, Ticket, operator_queues

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
AT = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


async def columns(conn) -> set[str]:
    return {c["name"] for c in await conn.run_sync(lambda c: inspect(c).get_columns("operator_queues"))}


async def mirrors(conn) -> dict[tuple[int, int], tuple[int, datetime]]:
    rows = await conn.execute(select(operator_queues.c.operator_id, operator_queues.c.queue_id,
                                     operator_queues.c.held, operator_queues.c.turn_at))
    return {(op, q): (held, turn) for op, q, held, turn in rows}


async def add_ticket(conn, n: int, client: int, queue: int, operator: int | None, channel: str = "webchat") -> int:
    return (await conn.execute(insert(Ticket).values(
        number=5000 + n, public_id=f"t{n}", client_id=client, channel=channel, chat_id="c", status="open",
        queue_id=queue, assignee_id=operator, created_at=AT, updated_at=AT, last_message_at=AT)
        .returning(Ticket.id))).scalar_one()


async def test_memberships_mirror_load_and_turn_and_the_migration_downgrades(database_url):
    engine = create_engine(database_url)
    try:
        await upgrade(engine, "0010_file_key_index")
        async with engine.begin() as conn:
            q1, q2 = [(await conn.execute(insert(Queue).values(name=n, title=n).returning(Queue.id))).scalar_one()
                      for n in ("one", "two")]
            ann, bob = [(await conn.execute(insert(Operator).values(
                username=n, display_name=n, languages=["en"], active=True, created_at=AT, capacity={},
                last_assigned_at=last).returning(Operator.id))).scalar_one() for n, last in (("ann", AT), ("bob", None))]
            await conn.execute(insert(operator_queues), [{"operator_id": ann, "queue_id": q1, "level": 1},
                                                         {"operator_id": bob, "queue_id": q1, "level": 1}])
            client = (await conn.execute(insert(Client).values(created_at=AT).returning(Client.id))).scalar_one()
            await add_ticket(conn, 1, client, q1, ann)
            await add_ticket(conn, 2, client, q1, ann, "email")

        await upgrade(engine)  # the mirrors are filled from what is there
        async with engine.begin() as conn:
            assert await mirrors(conn) == {(ann, q1): (2, AT), (bob, q1): (0, EPOCH)}
            # Kept by triggers: a new load, an assignment, a membership added later.
            third = await add_ticket(conn, 3, client, q1, None)
            await conn.execute(update(Ticket).where(Ticket.id == third).values(assignee_id=bob))
            later = datetime(2026, 11, 22, 13, 0, tzinfo=timezone.utc)
            await conn.execute(update(Operator).where(Operator.id == bob).values(last_assigned_at=later))
            await conn.execute(insert(operator_queues).values(operator_id=ann, queue_id=q2, level=2))
            assert await mirrors(conn) == {(ann, q1): (2, AT), (bob, q1): (1, later), (ann, q2): (2, AT)}
            await conn.execute(update(Ticket).where(Ticket.id == third).values(status="resolved"))
            assert (await mirrors(conn))[(bob, q1)] == (0, later)

        await downgrade(engine, "0010_file_key_index")
        async with engine.begin() as conn:
            assert {"held", "turn_at"}.isdisjoint(await columns(conn))
            fourth = await add_ticket(conn, 4, client, q2, ann)  # no trigger left behind names a dropped column
            await conn.execute(update(Ticket).where(Ticket.id == fourth).values(assignee_id=bob))
            await conn.execute(text("UPDATE operators SET last_assigned_at = NULL"))

        await upgrade(engine)
        async with engine.begin() as conn:
            assert await mirrors(conn) == {(ann, q1): (2, EPOCH), (bob, q1): (1, EPOCH), (ann, q2): (2, EPOCH)}
    finally:
        await engine.dispose()
