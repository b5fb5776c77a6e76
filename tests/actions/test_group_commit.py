"""Group commit in the inbox: concurrent messages share a transaction, and nobody is answered before it commits."""
import asyncio
from datetime import datetime, timezone

import pytest
from sqlalchemy import event, func, select

from bot.actions.inbox import receive_message
from bot.domain import InboundMessage
from bot.storage.engine import create_engine
from bot.storage.models import Message, Ticket


def visitor_says(user: str, n: int = 1, text: str | None = "Where is my order?") -> InboundMessage:
    return InboundMessage(channel="webchat", user_id=user, chat_id=user, message_id=f"{user}:{n}", text=text,
                          sent_at=datetime.now(timezone.utc))


@pytest.fixture
async def other_connection(desk):
    """A separate engine on the same database: it sees only what has been committed."""
    engine = create_engine(desk.settings.database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def commits(desk):
    """Counts the transactions the desk's engine commits."""
    seen = []
    engine = desk.sessions.kw["bind"].sync_engine
    listener = lambda conn: seen.append(1)  # noqa: E731
    event.listen(engine, "commit", listener)
    yield seen
    event.remove(engine, "commit", listener)


async def stored(engine, message_ids=None) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(Message)
        if message_ids is not None:
            query = query.where(Message.id.in_(message_ids))
        return (await conn.execute(query)).scalar_one()


async def test_concurrent_visitors_are_committed_together_and_each_is_answered_only_once_durable(
        desk, other_connection, commits):
    calls = [asyncio.ensure_future(receive_message(desk, visitor_says(f"visitor-{i}"))) for i in range(20)]
    for call in asyncio.as_completed(calls):
        receipt = await call
        # Whoever got a receipt may acknowledge: the message is already visible to any other connection.
        assert await stored(other_connection, [receipt.message_id]) == 1
    receipts = [c.result() for c in calls]
    assert all(r.new_ticket and not r.duplicate for r in receipts)
    assert len({r.ticket_id for r in receipts}) == 20 and len({r.ticket_number for r in receipts}) == 20
    assert len(commits) < 20  # shared transactions, not one each


async def test_copies_of_one_message_in_a_crowd_are_stored_once(desk, other_connection):
    same = [receive_message(desk, visitor_says("visitor-1")) for _ in range(4)]
    others = [receive_message(desk, visitor_says(f"visitor-{i}")) for i in range(2, 6)]
    receipts = await asyncio.gather(*same, *others)
    copies = receipts[:4]
    assert len({r.message_id for r in copies}) == 1
    assert sum(not r.duplicate for r in copies) == 1
    assert await stored(other_connection) == 5


async def test_one_visitor_writing_twice_at_once_gets_one_ticket(desk, other_connection):
    receipts = await asyncio.gather(*(receive_message(desk, visitor_says("visitor-1", n)) for n in range(1, 4)))
    assert len({r.ticket_id for r in receipts}) == 1 and [r.new_ticket for r in receipts] == [True, False, False]
    async with other_connection.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(Ticket))).scalar_one() == 1


async def test_a_broken_message_fails_alone_and_its_batch_mates_are_stored(desk, other_connection):
    calls = [receive_message(desk, visitor_says(f"visitor-{i}")) for i in range(5)]
    calls.insert(2, receive_message(desk, visitor_says("visitor-broken", text=None)))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[2], AttributeError)  # no text at all: an adapter bug, refused
    assert all(not isinstance(r, Exception) for i, r in enumerate(results) if i != 2)
    assert await stored(other_connection) == 5


async def test_nothing_is_acknowledged_when_the_commit_fails(desk, other_connection):
    engine = desk.sessions.kw["bind"].sync_engine

    def refuse(conn):
        raise OSError("disk full")

    event.listen(engine, "commit", refuse)
    try:
        results = await asyncio.gather(*(receive_message(desk, visitor_says(f"visitor-{i}")) for i in range(6)),
                                       return_exceptions=True)
    finally:
        event.remove(engine, "commit", refuse)
    assert all(isinstance(r, Exception) for r in results)
    assert await stored(other_connection) == 0
    # The visitors send again (nothing was acknowledged) and this time everything is stored once.
    again = await asyncio.gather(*(receive_message(desk, visitor_says(f"visitor-{i}")) for i in range(6)))
    assert not any(r.duplicate for r in again)
    assert await stored(other_connection) == 6
