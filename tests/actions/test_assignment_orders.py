"""Queues whose policies read operators in different orders, decided one after another.

A decision reads its ticket together with a first page of operators in the order the previous
decision used; a queue with another order (least busy by count or by share, round robin) reads
its page again. Whatever came before, each queue's own policy picks the operator.
"""
from datetime import timedelta

import pytest

from bot.actions.assignment import assign_ticket, preview_assignment
from bot.actions.routing import route_ticket
from bot.storage.models import utcnow
from tests.actions.routing_helpers import add_operator, client_writes, close_desk, fixed_router, open_desk


@pytest.fixture
async def desk(tmp_path, database_url):
    desk = await open_desk(tmp_path, database_url, router={
        "assignment": {"presence_grace_seconds": 3600},
        "queues": {"returns": {"strategy": "round_robin"}, "complaints": {"least_busy_by": "share"}}})
    yield desk
    await close_desk(desk)


async def placed(desk, queue: str, now) -> int:
    """The operator a new ticket of the queue is given at `now` (the preview said the same)."""
    ticket_id = await client_writes(desk, "Hello")
    await route_ticket(desk, fixed_router(queue), ticket_id, now)
    chosen = await preview_assignment(desk, ticket_id, now)
    done = await assign_ticket(desk, ticket_id, now)
    assert done is not None and done.operator_id == chosen  # the preview and the transaction agree
    return chosen


async def test_each_queue_orders_its_operators_by_its_own_policy_whatever_was_decided_before(desk):
    now = utcnow()
    queues = ("delivery", "returns", "complaints")
    ann = await add_operator(desk, "ann", queues=queues, capacity={"webchat": 10}, now=now)
    bob = await add_operator(desk, "bob", queues=queues, capacity={"webchat": 2}, now=now)
    at = [now + timedelta(seconds=i) for i in range(6)]
    assert await placed(desk, "delivery", at[0]) == ann  # least busy, equal loads: the lower id
    assert await placed(desk, "returns", at[1]) == bob  # round robin: bob was never given one
    assert await placed(desk, "delivery", at[2]) == ann  # 1 each: the one given a ticket longer ago
    assert await placed(desk, "returns", at[3]) == bob  # round robin again: ann's turn was later
    # By share: ann holds 2 of 10, bob 2 of 2 (full); by count they would tie and bob's turn was earlier.
    assert await placed(desk, "complaints", at[4]) == ann
    assert await placed(desk, "returns", at[5]) == ann  # bob is full: round robin passes him over


async def test_a_ticket_nobody_may_take_is_not_placed(desk):
    now = utcnow()
    await add_operator(desk, "ann", queues=("delivery",), now=now)
    ticket_id = await client_writes(desk, "Hello")
    await route_ticket(desk, fixed_router("returns"), ticket_id, now)  # nobody works in returns
    assert await preview_assignment(desk, ticket_id, now) is None
    assert await assign_ticket(desk, ticket_id, now) is None
