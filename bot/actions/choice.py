"""Choosing an operator for a ticket from the database: the queue's operators read a page at a time.

The policy itself is pure (router/assign.py); this module feeds it. Operators come in the order
the policy prefers (level, then load or turn), read along an index of the queue memberships,
which mirror each operator's load and turn (migrations 0008, 0011), with live offers added, so
a decision reads about a page of rows however many operators and tickets there are. The ticket
itself comes in the same statement as the first page: most decisions are one round trip.
Nothing here writes: the assignment transaction locks and re-checks.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from bot.actions.context import Desk
from bot.routing_settings import capacity_of, queue_policy
from bot.storage import routing_queries as rq
from router.assign import (
    ONLINE, Candidate, QueuePolicy, TicketFacts, choose_operator, search_order, settled,
)

PAGE = 8  # operators read in the first page (bench: every choice settled by its third row); later pages double
STEP = 4  # rows turned into candidates at a time (bench: 98% of decisions are settled by the second row)
_READ = "choice_read"  # desk.state: how the last decision read (order, by language), the guess for the next one
_POLICIES = "choice_policies"  # desk.state: queue name -> QueuePolicy (settings never change in a desk)


@dataclass(frozen=True)
class Decision:
    """A ticket the router may place now, its queue and policy, and the operator chosen (None: it waits)."""

    ticket: rq.DecidedTicket
    queue: str
    policy: QueuePolicy
    choice: Candidate | None


def _policy(desk: Desk, queue: str) -> QueuePolicy:
    policies = desk.state.setdefault(_POLICIES, {})
    if queue not in policies:
        policies[queue] = queue_policy(desk.settings, queue)
    return policies[queue]


async def decide(db, desk: Desk, ticket_id: int, now: datetime, excluded: set[int] = frozenset(),
                 lock: bool = False) -> Decision | None:
    """The policy's choice for a ticket, or None when it is not assignable now (or its queue is manual
    or has nobody present); the ticket locked (SKIP LOCKED) when asked.

    `db` is the assignment's session, or a pooled connection for a preview (anything that executes).
    The first statement reads the ticket with a page read as guessed from the last decision (the
    order, and whether only speakers of the ticket's language); a queue whose policy reads
    otherwise reads its page again.
    """
    settings = desk.settings
    grace = settings.router.assignment.presence_grace_seconds
    guess = desk.state.get(_READ, ("load", True))

    async def page(read: tuple[str | None, bool], **kw):
        order, by_language = read
        return await rq.decision_page(db, ticket_id, now, grace, order=order or "load", lock=lock,
                                      by_language=by_language, **kw)

    def first(read: tuple[str | None, bool]):
        return page(read, **({} if read[0] is None else {"limit": PAGE}))

    done = guess
    ticket, queue, rows = await first(done)
    if ticket is None and done[1]:
        # Nobody present speaks the ticket's language (or it is not assignable): whether the
        # language matters is for its queue to say.
        done = (done[0], False)
        ticket, queue, rows = await first(done)
    if ticket is None:
        return None
    policy = _policy(desk, queue)
    if policy.strategy == "manual":
        return Decision(ticket, queue, policy, None)
    read = (search_order(policy), policy.language_required)
    if read != guess:
        desk.state[_READ] = read
    if read[1] and done != guess:
        return Decision(ticket, queue, policy, None)  # it needs a speaker, and none is present
    if read != done:
        _, _, rows = await first(read)
    order = read[0]
    preferred = await rq.previous_operators(db, ticket, policy.sticky_window, now) if policy.strategy == "sticky" else ()
    # Operators who refused the ticket are left out by the decision statement itself.
    # No waiting time: it orders a queue's backlog, never the operators.
    facts = TicketFacts(ticket.id, queue, ticket.channel, ticket.language, ticket.priority, None, ticket.relaxed,
                        preferred)
    collected: dict[int, Candidate] = {}
    exact = await rq.loads(db, now, queue_id=ticket.queue_id) if order is None else None
    default_capacity = MappingProxyType(capacity_of(settings, None))

    def take(rows) -> None:
        for row in rows:
            op_id, level, languages, capacity, last, _floor, held, on_channel = row[:rq.OPERATOR_COLUMNS]
            if op_id in excluded:
                continue
            # Paged, only the ticket's channel and the total matter (free room, least busy): the
            # rest of the load is kept under "" so the total stays right.
            load = exact.get(op_id, {}) if exact is not None else {ticket.channel: on_channel, "": held - on_channel}
            collected[op_id] = Candidate(op_id, level or 1, rq.languages(languages), rq.capacity(capacity) or default_capacity,
                                         load, ONLINE, rq.moment(last))

    def decided() -> Decision:
        return Decision(ticket, queue, policy, choose_operator(facts, collected.values(), policy))

    if policy.strategy == "sticky" and preferred:
        take((await page(("load", read[1]), only_ids=preferred))[2])
    if order is None:
        take(rows)
        return decided()
    offset, size = 0, PAGE
    while True:
        # Rows come in rank order of their floor (loads without live offers, which only add): once
        # the last row taken ranks after the choice, no later row, on this page or the next, can beat it.
        for start in range(0, len(rows), STEP):
            take(rows[start:start + STEP])
            choice = choose_operator(facts, collected.values(), policy)
            op_id, level, _languages, _capacity, last, floor, *_ = rows[min(start + STEP, len(rows)) - 1]
            if settled(choice, Candidate(op_id, level or 1, load={"": floor}, last_assigned_at=rq.moment(last)), facts, policy):
                return Decision(ticket, queue, policy, choice)
        if len(rows) < size:
            return decided()
        offset, size = offset + size, size * 2
        rows = (await page(read, offset=offset, limit=size))[2]
