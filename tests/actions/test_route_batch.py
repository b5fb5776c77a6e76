"""Routing several new tickets at once decides and stores exactly what routing them one by one would,
classifies outside any transaction, and leaves alone a ticket another process placed meanwhile; assigning
them together fills operators as one-by-one assignment would."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.actions import routing
from bot.actions.assignment import assign_tickets
from bot.actions.context import _in_unit
from bot.actions.routing import route_ticket, route_tickets
from bot.actions.segments import pin_segment
from bot.dispatch import RoutingWorker
from bot.storage.models import AuditEvent, RoutingDecision, SlaDeadline, Ticket, TicketSla, utcnow
from router.classifier import Prediction
from router.routing import RoutingDecision as Decision, TicketRouter
from tests.actions.routing_helpers import add_operator, audits, client_writes, close_desk, open_desk

PRIORITY = {"segments": {"difficult": "high"}, "tags": {"vip": "urgent"}}
# text -> the queue the classifier double answers; "lounge" is a queue the database lacks.
ANSWERS = {"refund": "returns", "parcel": "delivery", "lounge": "lounge", "invoice": "billing"}


class KeywordClassifier:
    """Answers by keyword; records each call and fails the test if a unit of work is open during one."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def predict(self, text: str, folded: str | None = None) -> Prediction:
        return self.predict_many([text])[0]

    def predict_many(self, texts):
        assert not _in_unit.get(), "the classifier ran inside a transaction"
        self.calls.append(list(texts))
        return [Prediction(next((q for k, q in ANSWERS.items() if k in t.lower()), "general"), 0.8) for t in texts]


def keyword_router() -> TicketRouter:
    return TicketRouter([], KeywordClassifier(), triage_queue="general")  # no queue list: "lounge" reaches the DB


@pytest.fixture
async def desk(tmp_path, database_url):
    desk = await open_desk(tmp_path, database_url, router={"classify": False, "priority": PRIORITY})
    yield desk
    await close_desk(desk)


async def _client_of(desk, ticket_id: int) -> int:
    async with desk.sessions() as s:
        return (await s.get(Ticket, ticket_id)).client_id


async def _new_tickets(desk) -> list[int]:
    """Four tickets: two queues, a queue missing in the database, and a client whose segment raises the priority."""
    ids = [await client_writes(desk, text) for text in
           ("I want a refund", "Where is my parcel?", "Book me the lounge", "Wrong invoice, third time")]
    await pin_segment(desk, await _client_of(desk, ids[3]), segment="difficult")
    return ids


async def _outcome(desk, ticket_id: int) -> tuple:
    """Everything routing leaves behind for one ticket, with times relative to its hand-off."""
    async with desk.sessions() as s:
        ticket = await s.get(Ticket, ticket_id)
        start = ticket.handed_off_at
        decisions = [(d.queue, d.reason, d.confidence, d.rule, d.label, d.text, d.decided_at - start)
                     for d in (await s.execute(select(RoutingDecision).where(RoutingDecision.ticket_id == ticket_id))).scalars()]
        audits = [(a.kind, a.data) for a in (await s.execute(
            select(AuditEvent).where(AuditEvent.ticket_id == ticket_id, AuditEvent.kind == "routed"))).scalars()]
        sla = await s.get(TicketSla, ticket_id)
        steps = sorted((d.key, d.level, d.state, d.due_at - start) for d in (await s.execute(
            select(SlaDeadline).where(SlaDeadline.ticket_id == ticket_id))).scalars())
        return (ticket.queue_id, ticket.priority, ticket.version, ticket.routed_at - start, decisions, audits,
                (sla.level, sla.clock, sla.paused), steps)


async def test_a_batch_stores_what_one_by_one_routing_stores(desk):
    one_by_one, batch = await _new_tickets(desk), await _new_tickets(desk)
    now = utcnow()
    for ticket_id in one_by_one:
        await route_ticket(desk, keyword_router(), ticket_id, now)
    router = keyword_router()
    placed = await route_tickets(desk, router, batch, now)

    assert sorted(placed) == batch and len(router.classifier.calls) == 1  # one classifier call for the set
    for single, together in zip(one_by_one, batch):
        assert await _outcome(desk, together) == await _outcome(desk, single)
    queues = [placed[i].queue for i in batch]
    assert queues == ["returns", "delivery", "general", "billing"]  # "lounge" is missing: the ticket stays put
    assert placed[batch[3]].reason.endswith("; priority high (segment difficult)")


async def test_a_ticket_placed_by_another_process_before_the_write_is_left_as_it_was(desk, monkeypatch):
    ids = await _new_tickets(desk)
    taken, original = ids[1], routing._store_decisions

    async def another_process_first(desk_, decided, now):
        if taken in decided:  # another process stores its own decision for one ticket first
            facts = decided[taken][0]
            await original(desk_, {taken: (facts, Decision("billing", "rule elsewhere", 1.0, rule="elsewhere"))}, now)
        return await original(desk_, decided, now)

    monkeypatch.setattr(routing, "_store_decisions", another_process_first)
    placed = await route_tickets(desk, keyword_router(), ids, utcnow())

    assert sorted(placed) == [ids[0], ids[2], ids[3]]
    decisions, audits, _sla = (await _outcome(desk, taken))[4:7]
    assert [d[:2] for d in decisions] == [("billing", "rule elsewhere")] and len(audits) == 1


async def test_a_message_arriving_before_the_write_is_read_by_the_router(desk, monkeypatch):
    ticket_id = await client_writes(desk, "Hello", user="late-writer")
    original, written = routing._store_decisions, []

    async def client_writes_again_first(desk_, decided, now):
        if not written:
            written.append(await client_writes(desk, "I want a refund", user="late-writer"))
        return await original(desk_, decided, now)

    monkeypatch.setattr(routing, "_store_decisions", client_writes_again_first)
    router = keyword_router()
    decision = (await route_tickets(desk, router, [ticket_id], utcnow()))[ticket_id]

    assert written == [ticket_id]  # the second message joined the same ticket
    assert decision.queue == "returns" and decision.text == "Hello\nI want a refund"
    assert router.classifier.calls == [["Hello"], ["Hello\nI want a refund"]]


async def test_placements_submitted_together_share_one_classifier_call_and_each_caller_waits_for_its_own(desk):
    ids = [await client_writes(desk, text) for text in ("I want a refund", "Where is my parcel?", "Wrong invoice")]
    router = keyword_router()
    worker = RoutingWorker(desk, router)
    try:
        await asyncio.gather(*(worker.place(i) for i in ids))
        async with desk.sessions() as s:
            routed = {t.id: t.routed_at for t in (await s.execute(select(Ticket).where(Ticket.id.in_(ids)))).scalars()}
    finally:
        await worker.stop()
    assert all(routed[i] is not None for i in ids)
    assert router.classifier.calls == [["I want a refund", "Where is my parcel?", "Wrong invoice"]]



async def test_tickets_assigned_together_fill_operators_as_one_by_one_would(tmp_path, database_url):
    desk = await open_desk(tmp_path, database_url, router={"classify": False,
                                                            "assignment": {"presence_grace_seconds": 3600}})
    try:
        now = utcnow()
        anna = await add_operator(desk, "anna", capacity={"webchat": 2}, now=now)
        boris = await add_operator(desk, "boris", capacity={"webchat": 1}, now=now)
        ids = [await client_writes(desk, f"Where is my parcel NW-{i}?") for i in range(5)]
        await route_tickets(desk, keyword_router(), ids, now)
        placed = await assign_tickets(desk, ids, now)
        # Least busy first, lower id on a tie, never past capacity: anna, boris, anna; the rest wait.
        assert [placed[i].operator_id if placed[i] else None for i in ids] == [anna, boris, anna, None, None]
        assert await audits(desk, "assigned") == 3
        assert await assign_tickets(desk, ids, now) == {i: None for i in ids}  # nobody has room left
    finally:
        await close_desk(desk)
