"""A unit of work reads and writes as one: concurrent read-modify-write units never lose an update."""
import asyncio
import contextlib

import pytest
from sqlalchemy import select

from bot.actions.context import unit_of_work
from bot.storage.models import Ticket

pytestmark = pytest.mark.storage


async def _bump_version(desk, ticket_id: int, entered: asyncio.Event, go: asyncio.Event) -> None:
    async with unit_of_work(desk) as unit:
        ticket = (await unit.session.execute(select(Ticket).where(Ticket.id == ticket_id).with_for_update())).scalar_one()
        seen = ticket.version
        entered.set()
        await go.wait()  # the other unit gets every chance to run in between
        ticket.version = seen + 1


async def test_two_units_incrementing_the_same_row_both_count(desk):
    from tests.actions.routing_helpers import client_writes

    ticket_id = await client_writes(desk, "Where is my parcel?")
    async with desk.sessions() as s:
        before = (await s.get(Ticket, ticket_id)).version
    first_in, second_in, go = asyncio.Event(), asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(_bump_version(desk, ticket_id, first_in, go))
    await first_in.wait()
    second = asyncio.create_task(_bump_version(desk, ticket_id, second_in, go))
    # The second unit must not get to read the row while the first holds it (a bounded wait for
    # something that must not happen; with the old SQLite behaviour it read at once).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(second_in.wait(), timeout=1.0)
    assert not second_in.is_set()
    go.set()
    await asyncio.gather(first, second)
    async with desk.sessions() as s:
        assert (await s.get(Ticket, ticket_id)).version == before + 2


async def test_a_unit_opened_inside_another_is_refused_instead_of_deadlocking(desk):
    async with unit_of_work(desk):
        with pytest.raises(RuntimeError, match="inside another"):
            async with unit_of_work(desk):
                pass
