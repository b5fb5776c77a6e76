"""A person's choice of queue stands: the router, running late, does not move the ticket back."""
import pytest
from sqlalchemy import select

from bot.actions.routing import route_ticket
from bot.actions.tickets import transfer_ticket
from bot.storage.models import Queue, Ticket, utcnow
from tests.actions.routing_helpers import QUEUES, add_operator, client_writes, close_desk, fixed_router, open_desk
from tests.actions.test_train_from_history import viewer

pytestmark = pytest.mark.storage


@pytest.fixture
async def desk(tmp_path, database_url):
    desk = await open_desk(tmp_path, database_url)
    yield desk
    await close_desk(desk)


async def test_a_transfer_made_before_the_router_ran_is_not_undone_by_it(desk):
    await add_operator(desk, "boss", role="supervisor", queues=QUEUES)
    ticket_id = await client_writes(desk, "Where is my parcel?")
    await transfer_ticket(desk, await viewer(desk, "boss"), ticket_id, queue="billing")

    decision = await route_ticket(desk, fixed_router("delivery"), ticket_id, utcnow())

    async with desk.sessions() as s:
        queue = (await s.execute(select(Queue.name).join(Ticket, Ticket.queue_id == Queue.id)
                                 .where(Ticket.id == ticket_id))).scalar_one()
    assert decision is None and queue == "billing"
