"""The whole desk with the shipped model: a Russian delivery question from Telegram reaches delivery and a
Russian-speaking operator; the listener and the worker's pass both route, and never twice."""
import asyncio
from datetime import datetime, timezone

import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.actions.inbox import receive_message
from bot.domain import InboundMessage
from bot.routing_app import ROUTING
from bot.storage.models import Queue, RoutingDecision, Ticket, utcnow
from tests.actions.routing_helpers import QUEUES, add_operator, username_of
from tests.conftest import free_port, make_settings

DEMO_QUEUES = QUEUES + ["tech", "sales"]


@pytest.fixture
async def app(tmp_path, database_url):
    from bot.app import create_app

    settings = make_settings(tmp_path, database_url, queues=[{"name": q} for q in DEMO_QUEUES],
                             channels={"webchat": {"enabled": False}},
                             router={"classify": True, "assignment": {"presence_grace_seconds": 3600}})
    app = create_app(settings, public_url="http://127.0.0.1", auto_migrate=True)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()  # runs the cleanup contexts: migration, the model loaded off the loop, the worker
    await web.TCPSite(runner, "127.0.0.1", free_port()).start()
    yield app
    await runner.cleanup()


async def _assigned(desk, ticket_id: int) -> Ticket:
    """The ticket once it has an operator, looked at every 20 ms."""
    while True:
        async with desk.sessions() as s:
            ticket = await s.get(Ticket, ticket_id)
        if ticket.assignee_id is not None:
            return ticket
        await asyncio.sleep(0.02)


def telegram(text: str, user: str = "tg-7001", language: str = "ru") -> InboundMessage:
    return InboundMessage(channel="telegram", user_id=user, chat_id=user, message_id=f"{user}:1", text=text,
                          sent_at=datetime.now(timezone.utc), locale_hint=language, user_name="Иван")


async def test_a_russian_delivery_question_from_telegram_lands_in_delivery_with_a_russian_speaker(app):
    from bot.web import DESK

    desk = app[DESK]
    now = utcnow()
    await add_operator(desk, "mark", queues=("delivery", "returns"), languages=("en", "hu", "de"), now=now)
    await add_operator(desk, "olga", queues=("delivery", "complaints"), languages=("en", "ru", "uk"),
                       capacity={"telegram": 3}, now=now)
    receipt = await receive_message(desk, telegram("Здравствуйте! Заказ NW-482913 должен был прийти ещё в понедельник, "
                                                   "а курьер так и не приехал. Где моя посылка?"))
    await desk.bus.drain()
    # The listener routes and assigns it at once, unless the worker's pass (woken as the operators came
    # online) held the new ticket's row then: the listener leaves a locked ticket to that pass.
    ticket = await asyncio.wait_for(_assigned(desk, receipt.ticket_id), 30)
    async with desk.sessions() as s:
        queue = (await s.get(Queue, ticket.queue_id)).name
        [decision] = (await s.execute(select(RoutingDecision).where(RoutingDecision.ticket_id == ticket.id))).scalars()
    assert queue == "delivery" and decision.reason.startswith("classifier: delivery")
    assert await username_of(desk, ticket.assignee_id) == "olga"
    # The worker's pass finds nothing left to route: the ticket was routed once.
    await app[ROUTING].run_once()
    async with desk.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(RoutingDecision))).scalar_one() == 1


async def test_a_ticket_left_unrouted_by_a_crash_is_routed_by_the_next_pass(app):
    from bot.web import DESK

    desk = app[DESK]
    worker = app[ROUTING]
    router, worker.router = worker.router, None  # as if the process died between the commit and the listener
    receipt = await receive_message(desk, telegram("Hogyan kérhetem vissza a pénzem? Visszaküldtem a cipőt.",
                                                   user="tg-7002", language="hu"))
    await desk.bus.drain()
    async with desk.sessions() as s:
        assert (await s.get(Ticket, receipt.ticket_id)).routed_at is None
    worker.router = router
    await worker.run_once()
    async with desk.sessions() as s:
        ticket = await s.get(Ticket, receipt.ticket_id)
        assert ticket.routed_at is not None and (await s.get(Queue, ticket.queue_id)).name == "returns"
