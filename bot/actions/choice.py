"""Choosing an operator for a ticket from the database: the queue's operators read a page at a time.

The policy itself is pure (router/assign.py); this module feeds it. Operators come in the order
the policy prefers (level, then load or turn), read along an index of the queue memberships,
which mirror each operator's load and turn (migrations 0008, 0011), with live offers added, so
a decision reads about a page of rows however many operators and tickets there are. Nothing
here writes: the assignment transaction locks and re-checks.
"""
from __future__ import annotations

from datetime import datetime
from functools import partial

from bot.actions.context import Desk, Unit
from bot.routing_settings import capacity_of
from bot.storage import routing_queries as rq
from bot.storage.models import Ticket
from router.assign import ONLINE, Candidate, TicketFacts, choose_operator, search_order, settled

PAGE = 64  # operators read in the first page (1 in 500 bench choices reads a second); later pages double


async def choose(unit: Unit, desk: Desk, ticket: Ticket, facts: TicketFacts, policy, now: datetime,
                  excluded: set[int]) -> Candidate | None:
    """The policy's choice among the queue's present operators, read in pages of the policy's order.

    Loads come from the trigger-kept operator_loads, so a decision reads a few dozen operators
    instead of counting every open ticket; `settled` says when later pages cannot change it.
    """
    s, settings = unit.session, desk.settings
    page = partial(rq.operator_page, s, ticket.queue_id, now, settings.router.assignment.presence_grace_seconds,
                   channel=ticket.channel, ticket_id=ticket.id, refused_since=ticket.queued_at)
    collected: dict[int, Candidate] = {}
    order = search_order(policy)
    exact = await rq.loads(s, now, queue_id=ticket.queue_id) if order is None else None

    def take(rows: list[tuple]) -> None:
        for op_id, level, languages, capacity, last, _floor, held, on_channel in rows:
            if op_id in excluded:
                continue
            # Paged, only the ticket's channel and the total matter (free room, least busy): the
            # rest of the load is kept under "" so the total stays right.
            load = exact.get(op_id, {}) if exact is not None else {ticket.channel: on_channel, "": held - on_channel}
            collected[op_id] = Candidate(op_id, level or 1, languages, capacity_of(settings, capacity), load, ONLINE, last)

    if policy.strategy == "sticky" and facts.preferred:
        take(await page(order="load", only_ids=facts.preferred))
    if order is None:
        take(await page(order="load"))
        return choose_operator(facts, list(collected.values()), policy)
    offset, size = 0, PAGE
    while True:
        rows = await page(order=order, offset=offset, limit=size)
        take(rows)
        choice = choose_operator(facts, list(collected.values()), policy)
        if len(rows) < size:
            return choice
        op_id, level, _languages, _capacity, last, floor, _held, _on_channel = rows[-1]
        if settled(choice, Candidate(op_id, level or 1, load={"": floor}, last_assigned_at=last), facts, policy):
            return choice
        offset, size = offset + size, size * 2
