"""The decision statement reads only speakers of the ticket's language where the queue requires it.

Whether the language matters is the queue's policy, known only once the ticket's row is read, so
the first read guesses from the previous decision; these tests alternate queues that require the
language and one that does not, and check that each still gets its own policy's choice.
"""
import pytest

from bot.actions import choice
from bot.actions.assignment import assign_ticket, preview_assignment
from bot.actions.routing import route_ticket
from bot.storage.models import utcnow
from tests.actions.routing_helpers import add_operator, client_writes, close_desk, fixed_router, open_desk


@pytest.fixture
async def desk(tmp_path, database_url):
    desk = await open_desk(tmp_path, database_url, router={
        "assignment": {"presence_grace_seconds": 3600}, "queues": {"general": {"language_required": False}}})
    yield desk
    await close_desk(desk)


async def placed(desk, queue: str, now, language: str) -> int | None:
    """The operator a new ticket in `language` is given in `queue` (the preview said the same)."""
    ticket_id = await client_writes(desk, "Hello", language=language)
    await route_ticket(desk, fixed_router(queue), ticket_id, now)
    chosen = await preview_assignment(desk, ticket_id, now)
    done = await assign_ticket(desk, ticket_id, now)
    assert (done.operator_id if done else None) == chosen  # the preview and the transaction agree
    return chosen


async def test_each_queue_asks_for_the_language_only_if_its_policy_does(desk, monkeypatch):
    monkeypatch.setattr(choice, "PAGE", 1)  # the speakers come after the first page of everyone
    now = utcnow()
    queues = ("delivery", "general")
    ann = await add_operator(desk, "ann", queues=queues, capacity={"webchat": 10}, now=now)
    bob = await add_operator(desk, "bob", queues=queues, capacity={"webchat": 10}, now=now)
    dora = await add_operator(desk, "dora", queues=queues, languages=("en", "de"), capacity={"webchat": 10}, now=now)
    assert await placed(desk, "delivery", now, "de") == dora  # the only German speaker, though last
    assert await placed(desk, "general", now, "lv") == ann  # nobody speaks Latvian: general asks no language
    assert await placed(desk, "delivery", now, "lv") is None  # delivery does: the ticket waits
    assert await placed(desk, "general", now, "de") == bob  # the least busy, German or not
    assert await placed(desk, "delivery", now, "en") == ann  # one each since the same moment: the lowest id
