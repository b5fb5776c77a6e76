"""Routing in the console: presence, offers, a red SLA shown and escalated, alerts, the transfer table."""
from datetime import timedelta

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.actions.sla import fire_due
from bot.routing_app import ROUTING
from bot.storage.models import Operator, Ticket, utcnow
from tests.conftest import free_port, make_settings
from tests.console.conftest import CANNED, CHANNEL, Console, csrf_of
from tests.actions.routing_helpers import fixed_router

ROUTER = {
    "classify": False,
    "assignment": {"presence_grace_seconds": 3600},
    "queues": {"delivery": {"offer_timeout_seconds": 60}},
    "sla": {"business_hours": False, "targets": [{"first_response_minutes": 10, "resolution_minutes": 120}]},
}


@pytest.fixture
async def desk_app(tmp_path, database_url):
    from bot.app import ADAPTERS, create_app
    from bot.web import DESK

    settings = make_settings(tmp_path, database_url, channels={"webchat": {"enabled": False}}, canned_responses=CANNED,
                             router=ROUTER)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(settings, public_url=url, auto_migrate=True)
    server = Console(app, url, app[DESK])
    app[ADAPTERS][CHANNEL] = server.channel
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    app[ROUTING].router = fixed_router("delivery")
    yield server
    await runner.cleanup()


async def post(session, url, **data):
    async with session.get(url.rsplit("/", 1)[0] if "/tickets/" in url else url.replace("/status", "")) as r:
        page = await r.text()
    async with session.post(url, data={"csrf_token": csrf_of(page), **data}, allow_redirects=False) as r:
        return r.status


async def status_of(desk, username):
    async with desk.sessions() as s:
        return (await s.execute(select(Operator.status).where(Operator.username == username))).scalar_one()


async def test_an_operator_sets_their_status_in_the_header(desk_app):
    await desk_app.add_operator("anna", queues=("delivery",))
    session = await desk_app.logged_in("anna")
    async with session:
        async with session.get(f"{desk_app.url}/console") as r:
            page = await r.text()
        assert 'id="presence-now"' in page and ">Offline<" in page
        async with session.post(f"{desk_app.url}/console/status", data={"csrf_token": csrf_of(page), "status": "online",
                                                                        "next": "/console"}, allow_redirects=False) as r:
            assert r.status == 303
        assert await status_of(desk_app.desk, "anna") == "online"
        async with session.get(f"{desk_app.url}/console") as r:
            assert ">Online<" in await r.text()


async def test_an_offered_ticket_is_accepted_from_its_page(desk_app):
    await desk_app.add_operator("anna", queues=("delivery",))
    session = await desk_app.logged_in("anna")
    async with session:
        async with session.get(f"{desk_app.url}/console") as r:
            csrf = csrf_of(await r.text())
        async with session.post(f"{desk_app.url}/console/status", data={"csrf_token": csrf, "status": "online"}) as r:
            assert r.status == 200
        receipt = await desk_app.client_writes("My parcel never came")
        await desk_app.desk.bus.drain()
        async with desk_app.desk.sessions() as s:
            ticket = await s.get(Ticket, receipt.ticket_id)
        assert ticket.offered_to_id is not None and ticket.assignee_id is None
        async with session.get(f"{desk_app.url}/console/tickets/{receipt.ticket_number}") as r:
            page = await r.text()
        assert "Offered to you" in page and "Routed to delivery: classifier: delivery" in page
        async with session.post(f"{desk_app.url}/console/tickets/{receipt.ticket_number}/accept",
                                data={"csrf_token": csrf}, allow_redirects=False) as r:
            assert r.status == 303
        async with desk_app.desk.sessions() as s:
            assert (await s.get(Ticket, receipt.ticket_id)).assignee_id == ticket.offered_to_id


async def test_a_red_sla_is_shown_with_its_time_and_escalated_to_the_supervisor(desk_app):
    await desk_app.add_operator("boss", role="supervisor", queues=("general", "delivery"))
    receipt = await desk_app.client_writes("Where is my parcel?")
    await desk_app.desk.bus.drain()
    assert await fire_due(desk_app.desk, utcnow() + timedelta(minutes=15)) == 1
    session = await desk_app.logged_in("boss")
    async with session:
        async with session.get(f"{desk_app.url}/console/tickets/{receipt.ticket_number}") as r:
            page = await r.text()
        card = page.split('id="ticket-routing"')[1].split("</section>")[0]
        # Red as the worker found it (its clock ran ahead of the wall clock here), with the time to the target.
        assert 'class="sla-light sla-red" id="ticket-light">red<' in card and "first response: 9 min left" in card
        async with session.get(f"{desk_app.url}/console/routing") as r:
            overview = await r.text()
        assert '<span class="sla-light sla-red">red</span>' in overview and f"#{receipt.ticket_number}" in overview
        async with session.get(f"{desk_app.url}/console/alerts") as r:
            alerts = await r.text()
        assert f"#{receipt.ticket_number} is red: first response target reached in delivery" in alerts
        assert 'class="alerts-link has-unread"' in alerts


async def test_wrong_queue_marks_fill_the_supervisors_transfer_table(desk_app):
    await desk_app.add_operator("boss", role="supervisor", queues=("general", "billing", "delivery"))
    await desk_app.add_operator("anna", queues=("delivery",))
    receipt = await desk_app.client_writes("I was charged twice")
    await desk_app.desk.bus.drain()
    session = await desk_app.logged_in("boss")
    async with session:
        async with session.get(f"{desk_app.url}/console/tickets/{receipt.ticket_number}") as r:
            csrf = csrf_of(await r.text())
        async with session.post(f"{desk_app.url}/console/tickets/{receipt.ticket_number}/wrong-queue",
                                data={"csrf_token": csrf, "queue": "billing"}, allow_redirects=False) as r:
            assert r.status == 303
        async with session.get(f"{desk_app.url}/console/routing") as r:
            table = await r.text()
        assert '<tr data-from="delivery">' in table
        row = table.split('<tr data-from="delivery">')[1].split("</tr>")[0]
        assert '<td class="numeric hot" data-to="billing">1</td>' in row
    operator = await desk_app.logged_in("anna")
    async with operator:
        async with operator.get(f"{desk_app.url}/console/routing") as r:
            assert r.status == 403


async def test_the_overview_shows_each_operators_load_held_and_offered(desk_app):
    await desk_app.add_operator("boss", role="supervisor", queues=("delivery",))
    await desk_app.add_operator("anna", queues=("delivery",))
    anna = await desk_app.logged_in("anna")
    async with anna:
        async with anna.get(f"{desk_app.url}/console") as r:
            csrf = csrf_of(await r.text())
        async with anna.post(f"{desk_app.url}/console/status", data={"csrf_token": csrf, "status": "online"}) as r:
            assert r.status == 200
        first = await desk_app.client_writes("My parcel never came", user="visitor-1")
        await desk_app.desk.bus.drain()
        async with anna.post(f"{desk_app.url}/console/tickets/{first.ticket_number}/accept",
                             data={"csrf_token": csrf}, allow_redirects=False) as r:
            assert r.status == 303
        await desk_app.client_writes("Where is my order?", user="visitor-2")  # offered to anna: counts too
        await desk_app.desk.bus.drain()

    def load_of(page: str, name: str) -> str:
        row = page.split(f"<tr><td>{name}</td>")[1].split("</tr>")[0]
        return row.split("<td>")[3].split("</td>")[0]

    boss = await desk_app.logged_in("boss")
    async with boss:
        async with boss.get(f"{desk_app.url}/console/routing") as r:
            overview = await r.text()
    assert load_of(overview, "Anna") == "fakechat 2" and load_of(overview, "Boss") == "—"
