"""Queue -> operator in the database: the assignment transaction, offers, steps, presence.

The assignment transaction (one per ticket; a burst of new tickets shares one, a savepoint each):
1. take the ticket row if it is still assignable: `FOR NO KEY UPDATE SKIP LOCKED` on PostgreSQL, so
   another process working the same queue skips it instead of waiting; the same statement
2. reads the queue's present operators in the policy's order, a page at a time, with their loads
   (kept per operator and channel by triggers on `tickets`, migration 0008), and `router.assign`
   chooses (bot/actions/choice.py);
3. lock the chosen operator's row (a write to it) and count their load again under the lock, so
   two processes filling the same operator never pass their capacity;
4. write with a conditional, versioned update (`WHERE version = :read AND assignee_id IS NULL AND
   queue_id = :read`): if anything changed since the read (SQLite has no row locks), nothing is
   written and the attempt is retried on fresh data.
A ticket therefore never has two operators, and an offer is a reservation on the same row.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.exc import OperationalError

from bot.access import Viewer
from bot.actions.choice import decide
from bot.actions.context import Desk, Unit, unit_of_work
from bot.errors import InvalidInput, NotFound
from bot.events import TicketChanged
from bot.routing_settings import capacity_of, queue_policy
from bot.storage import routing_queries as rq
from bot.storage.models import AuditEvent, OfferRefusal, Operator, Queue, Ticket, operator_queues, utcnow
from router.assign import (
    OFFLINE, ONLINE, STATUSES, capacity_for, offer_timeout, step_action,
)

logger = logging.getLogger(__name__)
ATTEMPTS = 4
BATCH = 20  # tickets assigned in one transaction


class _Stale(Exception):
    """The row changed between read and write: try again on fresh data."""


@dataclass(frozen=True)
class Placement:
    ticket_id: int
    operator_id: int
    offered: bool


def _retryable(exc: Exception) -> bool:
    # SQLite reports a write on a stale snapshot as "database is locked"; PostgreSQL a deadlock or
    # serialization failure. Both leave nothing written: the next attempt reads again.
    text = str(exc).lower()
    return isinstance(exc, _Stale) or "locked" in text or "deadlock" in text or "could not serialize" in text


async def _versioned(unit: Unit, ticket, values: dict, *conditions) -> None:
    """Write ticket columns only if the row (a Ticket or a DecidedTicket) is as read (same version): else raise _Stale."""
    values = {**values, "version": ticket.version + 1}
    done = (await unit.session.execute(
        update(Ticket).where(Ticket.id == ticket.id, Ticket.version == ticket.version, *conditions)
        .values(**values).execution_options(synchronize_session=False))).rowcount
    if done != 1:
        raise _Stale()


async def _has_room(unit: Unit, desk: Desk, operator_id: int, channel: str, now: datetime) -> bool:
    """Lock the operator, then count their load again against their capacity.

    The lock is a write to the operator's row (it sets a column to itself): a row lock on
    PostgreSQL, and on SQLite the database's write lock, taken before the recount so the recount
    reads what every earlier assignment committed. Someone who went offline meanwhile is skipped.
    """
    s = unit.session
    capacity = (await s.execute(
        update(Operator).where(Operator.id == operator_id, Operator.active.is_(True), Operator.status == ONLINE)
        .values(status=Operator.status).returning(Operator.capacity)
        .execution_options(synchronize_session=False))).scalar_one_or_none()
    if capacity is None:
        return False
    used = await rq.held_on(s, now, operator_id, channel)
    return used < capacity_for(capacity_of(desk.settings, capacity), channel)


async def _assign_once(desk: Desk, ticket_id: int, now: datetime) -> Placement | None:
    async with unit_of_work(desk) as unit:
        return await _assign_in(unit, desk, ticket_id, now)


async def _assign_in(unit: Unit, desk: Desk, ticket_id: int, now: datetime) -> Placement | None:
    """Steps 1-4 above for one ticket, inside the caller's transaction."""
    s = unit.session
    excluded: set[int] = set()
    while True:
        decision = await decide(s, desk, ticket_id, now, excluded, lock=True)
        if decision is None or decision.choice is None:
            return None
        ticket, queue, policy, choice = decision.ticket, decision.queue, decision.policy, decision.choice
        if await _has_room(unit, desk, choice.id, ticket.channel, now):
            break
        excluded.add(choice.id)
    seconds = offer_timeout(policy, ticket.channel)
    if seconds:
        values = {"offered_to_id": choice.id, "offer_expires_at": now + timedelta(seconds=seconds)}
    else:
        values = {"assignee_id": choice.id, "assigned_at": now, "offered_to_id": None, "offer_expires_at": None,
                  "updated_at": now, "status": "open" if ticket.status == "new" else ticket.status}
    await _versioned(unit, ticket, values, Ticket.assignee_id.is_(None), Ticket.queue_id == ticket.queue_id)
    await s.execute(update(Operator).where(Operator.id == choice.id).values(last_assigned_at=now))
    kind = "offered" if seconds else "assigned"
    await s.execute(insert(AuditEvent).values(
        kind=kind, ticket_id=ticket.id, operator_id=None, at=now,
        data={"operator_id": choice.id, "by": "router", "strategy": policy.strategy, "queue": queue,
              **({"expires_in": seconds} if seconds else {})}))
    unit.events.append(TicketChanged(ticket_id=ticket.id, what=kind))
    return Placement(ticket.id, choice.id, bool(seconds))


async def preview_assignment(desk: Desk, ticket_id: int, now: datetime | None = None) -> int | None:
    """The operator the queue's policy would choose for the ticket now; reads only (nothing is written).

    It reads on a pooled connection, without a session. On PostgreSQL it reads in autocommit: no
    BEGIN and ROLLBACK round trips, and each statement still sees what was committed when it
    started, as in a read-committed transaction (the assignment transaction checks again anyway).
    """
    now = now or utcnow()
    engine = desk.sessions.kw["bind"]
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="AUTOCOMMIT")
        decision = await decide(conn, desk, ticket_id, now)
        return decision.choice.id if decision and decision.choice else None


async def assign_ticket(desk: Desk, ticket_id: int, now: datetime | None = None) -> Placement | None:
    """Give (or offer) one ticket to the operator its queue's policy chooses; None: it waits."""
    now = now or utcnow()
    for attempt in range(ATTEMPTS):
        try:
            return await _assign_once(desk, ticket_id, now)
        except (_Stale, OperationalError) as exc:
            if not _retryable(exc):
                raise
            logger.debug("assignment of ticket %s raced (attempt %d); retrying", ticket_id, attempt + 1)
    return None


async def assign_tickets(desk: Desk, ticket_ids, now: datetime | None = None) -> dict[int, Placement | None]:
    """`assign_ticket` for several tickets (in id order) with one commit: a burst of new tickets.

    Each ticket is assigned in a savepoint of the shared transaction, whose reads see the earlier
    tickets' writes (loads, last assignment), so the choices equal one-by-one assignment. A ticket
    that raced rolls back alone and is retried alone afterwards; if the shared transaction fails,
    every ticket is assigned on its own.
    """
    now = now or utcnow()
    ids = sorted(set(ticket_ids))
    if len(ids) > BATCH:  # the inbox gets SQLite's write lock between batches
        placed = {}
        for start in range(0, len(ids), BATCH):
            placed.update(await assign_tickets(desk, ids[start:start + BATCH], now))
        return placed
    if len(ids) <= 1:
        return {i: await assign_ticket(desk, i, now) for i in ids}
    placed: dict[int, Placement | None] = {}
    again: list[int] = []
    try:
        async with unit_of_work(desk) as unit:
            for ticket_id in ids:
                published = len(unit.events)
                try:
                    async with unit.session.begin_nested():
                        placed[ticket_id] = await _assign_in(unit, desk, ticket_id, now)
                except (_Stale, OperationalError) as exc:
                    if not _retryable(exc):
                        raise
                    del unit.events[published:]
                    again.append(ticket_id)
    except OperationalError as exc:
        if not _retryable(exc):
            raise
        logger.info("a shared assignment of %d tickets failed; assigning them one by one", len(ids), exc_info=True)
        placed, again = {}, ids
    for ticket_id in again:
        placed[ticket_id] = await assign_ticket(desk, ticket_id, now)
    return placed


async def assign_backlog(desk: Desk, now: datetime | None = None, queues: list[str] | None = None,
                         batch: int = 50) -> list[Placement]:
    """Hand out what waits in each queue, best first, while operators have room."""
    now = now or utcnow()
    placed: list[Placement] = []
    async with desk.sessions() as s:
        queue_ids = await rq.queue_ids_by_name(s)
    for name, queue_id in sorted(queue_ids.items()):
        if (queues is not None and name not in queues) or queue_policy(desk.settings, name).strategy == "manual":
            continue
        tried: set[int] = set()
        while True:
            async with desk.sessions() as s:
                if not await rq.operator_rows(s, queue_id, now, desk.settings.router.assignment.presence_grace_seconds):
                    break
                ids = [i for i in await rq.backlog_ids(s, queue_id, now, limit=batch + len(tried)) if i not in tried]
            if not ids:
                break
            progress = False
            for ticket_id in ids[:batch]:
                tried.add(ticket_id)
                done = await assign_ticket(desk, ticket_id, now)
                if done:
                    placed.append(done)
                    progress = True
            if not progress:
                break
    return placed


async def _offered_ticket(unit: Unit, ticket_id: int, operator_id: int) -> Ticket:
    ticket = (await unit.session.execute(select(Ticket).where(Ticket.id == ticket_id))).scalar_one_or_none()
    if ticket is None or ticket.offered_to_id != operator_id or ticket.assignee_id is not None:
        raise InvalidInput("this ticket is not offered to you (any more)")
    return ticket


async def accept_offer(desk: Desk, viewer: Viewer, ticket_id: int, now: datetime | None = None) -> None:
    """The operator takes the ticket offered to them, if the offer still stands."""
    now = now or utcnow()
    async with unit_of_work(desk) as unit:
        ticket = await _offered_ticket(unit, ticket_id, viewer.id)
        if ticket.offer_expires_at is not None and ticket.offer_expires_at <= now:
            raise InvalidInput("the offer has expired; the ticket went back to its queue")
        try:
            await _versioned(unit, ticket, {
                "assignee_id": viewer.id, "assigned_at": now, "offered_to_id": None, "offer_expires_at": None,
                "updated_at": now, "status": "open" if ticket.status == "new" else ticket.status,
            }, Ticket.offered_to_id == viewer.id, Ticket.assignee_id.is_(None))
        except _Stale:
            raise InvalidInput("the ticket changed meanwhile; it is not offered to you any more") from None
        unit.session.add(AuditEvent(kind="assigned", ticket_id=ticket.id, operator_id=viewer.id, at=now,
                                    data={"operator_id": viewer.id, "by": "offer accepted"}))
        unit.events.append(TicketChanged(ticket_id=ticket.id, what="assigned"))


async def reject_offer(desk: Desk, viewer: Viewer, ticket_id: int, now: datetime | None = None) -> None:
    """The operator declines: the ticket is offered to the next eligible operator."""
    now = now or utcnow()
    async with unit_of_work(desk) as unit:
        ticket = await _offered_ticket(unit, ticket_id, viewer.id)
        try:
            await _versioned(unit, ticket, {"offered_to_id": None, "offer_expires_at": None},
                             Ticket.offered_to_id == viewer.id, Ticket.assignee_id.is_(None))
        except _Stale:
            raise InvalidInput("the ticket changed meanwhile; it is not offered to you any more") from None
        unit.session.add(OfferRefusal(ticket_id=ticket.id, operator_id=viewer.id, kind="rejected", at=now))
        unit.session.add(AuditEvent(kind="offer_rejected", ticket_id=ticket.id, operator_id=viewer.id, at=now))
        unit.events.append(TicketChanged(ticket_id=ticket.id, what="offer_rejected"))


async def expire_offers(desk: Desk, now: datetime | None = None, batch: int = 200) -> int:
    """Offers nobody answered in time go back to the queue; the operator is not asked again this step."""
    now = now or utcnow()
    async with unit_of_work(desk) as unit:
        rows = list((await unit.session.execute(
            select(Ticket).where(Ticket.offered_to_id.is_not(None), Ticket.offer_expires_at <= now)
            .order_by(Ticket.offer_expires_at).limit(batch).with_for_update(skip_locked=True, key_share=True))).scalars())
        for ticket in rows:
            operator_id = ticket.offered_to_id
            ticket.offered_to_id = None
            ticket.offer_expires_at = None
            ticket.version += 1
            if ticket.assignee_id is None:  # an offer someone else's take overtook needs no refusal
                unit.session.add(OfferRefusal(ticket_id=ticket.id, operator_id=operator_id, kind="expired", at=now))
                unit.session.add(AuditEvent(kind="offer_expired", ticket_id=ticket.id, at=now,
                                            data={"operator_id": operator_id}))
                unit.events.append(TicketChanged(ticket_id=ticket.id, what="offer_expired"))
        return len(rows)


async def apply_step_timeouts(desk: Desk, now: datetime | None = None, batch: int = 200) -> int:
    """Tickets unassigned past their queue's step timeout relax the requirements or move to the fallback queue."""
    now = now or utcnow()
    moved = 0
    async with desk.sessions() as s:
        queue_ids = await rq.queue_ids_by_name(s)
    for name, queue_id in queue_ids.items():
        policy = queue_policy(desk.settings, name)
        if policy.step_timeout <= 0:
            continue
        cutoff = now - timedelta(seconds=policy.step_timeout)
        async with unit_of_work(desk) as unit:
            rows = list((await unit.session.execute(
                select(Ticket).where(Ticket.queue_id == queue_id, rq.assignable(now), Ticket.offered_to_id.is_(None),
                                     Ticket.queued_at <= cutoff)
                .limit(batch).with_for_update(skip_locked=True, key_share=True))).scalars())
            for ticket in rows:
                action = step_action(policy, ticket.relaxed)
                if action == "relax":
                    ticket.relaxed = True
                elif action == "fallback":
                    ticket.queue_id = queue_ids[policy.fallback_queue]
                    ticket.relaxed = False
                else:
                    continue
                ticket.queued_at = now
                ticket.version += 1
                ticket.updated_at = now
                unit.session.add(AuditEvent(kind=f"step_{action}", ticket_id=ticket.id, at=now,
                                            data={"queue": name, "to_queue": policy.fallback_queue if action == "fallback" else name}))
                unit.events.append(TicketChanged(ticket_id=ticket.id, what=f"step_{action}"))
                moved += 1
    return moved


async def requeue(desk: Desk, ticket_id: int, now: datetime | None = None) -> None:
    """A ticket moved to another queue by hand starts a fresh step there (no relaxing, no refusals, no offer)."""
    now = now or utcnow()
    async with unit_of_work(desk) as unit:
        ticket = await unit.session.get(Ticket, ticket_id)
        if ticket is None:
            return
        ticket.queued_at, ticket.relaxed, ticket.version = now, False, ticket.version + 1
        if ticket.assignee_id is None:
            ticket.offered_to_id, ticket.offer_expires_at = None, None


async def _return_unanswered(unit: Unit, operator_id: int, now: datetime, why: str) -> list[int]:
    """Tickets awaiting the operator's answer go back to their queues; their pending offers are withdrawn."""
    s = unit.session
    tickets = list((await s.execute(select(Ticket).where(
        (Ticket.assignee_id == operator_id) & Ticket.status.in_(rq.ASSIGNABLE_STATUSES)
        | (Ticket.offered_to_id == operator_id) & Ticket.assignee_id.is_(None)).with_for_update(key_share=True))).scalars())
    for ticket in tickets:
        ticket.assignee_id = None if ticket.assignee_id == operator_id else ticket.assignee_id
        ticket.offered_to_id, ticket.offer_expires_at = None, None
        ticket.version += 1
        ticket.updated_at = now
        s.add(AuditEvent(kind="returned_to_queue", ticket_id=ticket.id, at=now,
                         data={"operator_id": operator_id, "why": why}))
        unit.events.append(TicketChanged(ticket_id=ticket.id, what="returned"))
    return [t.id for t in tickets]


async def set_operator_status(desk: Desk, operator_id: int, status: str, now: datetime | None = None,
                              by: int | None = None) -> list[int]:
    """Online, away or offline; going offline returns the operator's unanswered tickets to their queues."""
    if status not in STATUSES:
        raise InvalidInput("unknown status {status!r}; use one of {choices}", status=status, choices=", ".join(STATUSES))
    now = now or utcnow()
    async with unit_of_work(desk) as unit:
        operator = (await unit.session.execute(
            select(Operator).where(Operator.id == operator_id).with_for_update(key_share=True))).scalar_one_or_none()
        if operator is None:
            raise NotFound(f"there is no operator {operator_id}")
        previous = operator.status
        operator.status, operator.status_at, operator.seen_at = status, now, now
        if previous != status:
            unit.session.add(AuditEvent(kind="operator_status", operator_id=by or operator_id, at=now,
                                        data={"operator_id": operator_id, "from": previous, "to": status}))
        returned = await _return_unanswered(unit, operator_id, now, "went offline") if status == OFFLINE else []
        unit.events.append(TicketChanged(ticket_id=None, what=f"operator_{status}"))
        return returned


async def mark_present(desk: Desk, operator_ids, now: datetime | None = None) -> None:
    """Operators with a console open in this process are still there."""
    ids = list(operator_ids)
    if not ids:
        return
    async with unit_of_work(desk) as unit:
        await unit.session.execute(update(Operator).where(Operator.id.in_(ids), Operator.status != OFFLINE)
                                   .values(seen_at=now or utcnow()))


async def expire_presence(desk: Desk, now: datetime | None = None) -> list[int]:
    """Operators whose console has been gone longer than the grace time count as offline from now on."""
    now = now or utcnow()
    grace = desk.settings.router.assignment.presence_grace_seconds
    if grace <= 0:
        return []
    async with desk.sessions() as s:
        gone = [r[0] for r in await s.execute(select(Operator.id).where(
            Operator.status != OFFLINE, Operator.seen_at < now - timedelta(seconds=grace)))]
    for operator_id in gone:
        logger.info("operator %s has had no console for %.0f s: offline", operator_id, grace)
        await set_operator_status(desk, operator_id, OFFLINE, now)
    return gone


async def set_operator_routing(desk: Desk, username: str, *, capacity: dict[str, int] | None = None,
                               levels: dict[str, int] | None = None, languages: list[str] | None = None) -> None:
    """Capacity per channel, level per queue and languages of an operator."""
    async with unit_of_work(desk) as unit:
        s = unit.session
        operator = (await s.execute(select(Operator).where(Operator.username == username))).scalar_one_or_none()
        if operator is None:
            raise NotFound(f"there is no operator {username!r}")
        if capacity is not None:
            operator.capacity = {str(k): int(v) for k, v in capacity.items()}
        if languages is not None:
            operator.languages = list(languages)
        for queue, level in (levels or {}).items():
            queue_id = (await s.execute(select(Queue.id).where(Queue.name == queue))).scalar_one_or_none()
            if queue_id is None:
                raise InvalidInput("unknown queue {queue!r}", queue=queue)
            await s.execute(update(operator_queues).where(operator_queues.c.operator_id == operator.id,
                                                          operator_queues.c.queue_id == queue_id).values(level=level))
