"""On PostgreSQL, writers of one ticket's SLA rows at once all finish: a reply never deadlocks with an
SLA sync or a client follow-up on the same ticket, and two syncs storing its first light both succeed.

A message's SLA trigger (migration 0012) locks the ticket's SLA row; a reply holds its ticket row
when it stores its message. A sync that wrote the SLA row and then waited for the ticket (its steps'
foreign key, when tickets were locked FOR UPDATE), or a follow-up that stored its message before
updating the ticket, closed a cycle with that reply. Each test holds a ticket as a reply does, lets
the other writer run until it waits or is done, then stores the reply's message: both must finish.
"""
import asyncio
import logging
from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import selectinload

from bot.actions.context import Unit
from bot.actions.inbox import receive_message
from bot.actions.operators import viewer_of
from bot.actions.routing import route_ticket
from bot.actions.sla import sync_ticket_sla
from bot.actions.tickets import queue_outbound, visible_ticket
from bot.domain import AuthorKind, InboundMessage
from bot.storage.models import Message, Operator, SlaDeadline, TicketSla, utcnow
from tests.actions.routing_helpers import add_operator, client_writes, close_desk, fixed_router, open_desk
from tests.actions.test_sla_state import ROUTER  # ten-minute response targets, round the clock


@pytest.fixture
async def desk(tmp_path, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks between concurrent transactions are PostgreSQL's; set HELPLINE_TEST_DATABASE_URL")
    desk = await open_desk(tmp_path, database_url, router=ROUTER)
    yield desk
    await close_desk(desk)


async def routed_and_synced(desk, user: str) -> int:
    ticket_id = await client_writes(desk, "Where is my parcel?", user=user)
    await route_ticket(desk, fixed_router("delivery"), ticket_id, utcnow())
    await sync_ticket_sla(desk, ticket_id)
    return ticket_id


async def waits_or_is_done(desk, other: asyncio.Task) -> None:
    """Until `other` is done or another backend of this database waits on a lock (bounded)."""
    engine = desk.sessions.kw["bind"]
    waiting = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                   "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")

    async def poll():
        async with engine.connect() as conn:
            while not other.done():
                found = (await conn.execute(waiting)).scalar_one()
                await conn.rollback()  # pg_stat_activity is read once per transaction: a new one each look
                if found:
                    return
                await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), 10)


async def reply_while(desk, ticket_id: int, operator_id: int, other) -> object:
    """Hold the ticket as a reply does, run `other` until it waits or is done, then store the reply's
    message and commit; `other`'s result."""
    async with desk.sessions() as s:
        op = (await s.execute(select(Operator).options(selectinload(Operator.queues))
                              .where(Operator.id == operator_id))).scalar_one()
    async with desk.sessions() as s, s.begin():
        ticket = await visible_ticket(Unit(s), viewer_of(op), ticket_id, lock=True)  # as reply_to_ticket
        task = asyncio.create_task(other())
        await waits_or_is_done(desk, task)
        await queue_outbound(Unit(s), ticket, "It ships today.", AuthorKind.OPERATOR, operator_id)
    return await asyncio.wait_for(task, 30)


async def test_a_reply_and_an_sla_sync_of_the_same_ticket_both_finish(desk):
    boss = await add_operator(desk, "boss", role="supervisor")
    ticket_id = await routed_and_synced(desk, "sync-client")
    # Without its pending steps the next sync writes new ones: a foreign key check on the ticket row.
    async with desk.sessions.begin() as s:
        await s.execute(delete(SlaDeadline).where(SlaDeadline.ticket_id == ticket_id))
    await reply_while(desk, ticket_id, boss, lambda: sync_ticket_sla(desk, ticket_id))
    async with desk.sessions() as s:
        light = await s.get(TicketSla, ticket_id)
        steps = (await s.execute(select(func.count()).where(SlaDeadline.ticket_id == ticket_id))).scalar_one()
    assert steps  # the sync's steps are stored
    assert light.seen != light.events  # the reply counted an event after the sync: the next sync replays
    await sync_ticket_sla(desk, ticket_id)
    async with desk.sessions() as s:
        light = await s.get(TicketSla, ticket_id)
    assert light.seen == light.events


@pytest.mark.parametrize("quoted", [None, 999_999], ids=["batched", "one by one"])
async def test_a_reply_and_a_client_follow_up_on_the_same_ticket_both_finish(desk, quoted, caplog):
    """A follow-up quoting a ticket number no ticket has yet takes the inbox's one-by-one path. The inbox
    writes a batch again one by one when it fails: the follow-up must be stored at its first try."""
    caplog.set_level(logging.INFO, logger="bot.actions.group_commit")
    boss = await add_operator(desk, "boss", role="supervisor")
    user = "follow-up-client"
    ticket_id = await routed_and_synced(desk, user)
    follow_up = InboundMessage(channel="webchat", user_id=user, chat_id=user, message_id=f"{user}:hello", text="Hello?",
                               sent_at=datetime.now(timezone.utc), ticket_number=quoted)
    receipt = await reply_while(desk, ticket_id, boss, lambda: receive_message(desk, follow_up))
    assert receipt.ticket_id == ticket_id
    assert not [r.getMessage() for r in caplog.records if r.name == "bot.actions.group_commit"]
    async with desk.sessions() as s:
        texts = (await s.execute(select(Message.text).where(Message.ticket_id == ticket_id).order_by(Message.id))).scalars().all()
        light = await s.get(TicketSla, ticket_id)
    assert texts[-2:] == ["It ships today.", "Hello?"]
    assert light.seen != light.events  # the reply counted an event: the next sync replays the timeline


async def test_two_syncs_storing_a_ticket_s_first_light_at_once_both_finish(desk):
    """Two syncs of a ticket without a light (a listener and the reconcile pass, or two processes) both
    insert it: the later one waits for the first, then sets its values instead of failing on the key."""
    ticket_id = await client_writes(desk, "Where is my parcel?", user="light-client")
    await route_ticket(desk, fixed_router("delivery"), ticket_id, utcnow())
    async with desk.sessions.begin() as s:
        await s.execute(delete(TicketSla).where(TicketSla.ticket_id == ticket_id))
    async with desk.sessions() as s, s.begin():  # the first sync, about to commit its light
        s.add(TicketSla(ticket_id=ticket_id, clock=""))
        await s.flush()
        second = asyncio.create_task(sync_ticket_sla(desk, ticket_id))
        await waits_or_is_done(desk, second)
    await asyncio.wait_for(second, 30)
    async with desk.sessions() as s:
        light = await s.get(TicketSla, ticket_id)
    assert light.clock == "first_response"  # the second sync's clocks, not the placeholder
