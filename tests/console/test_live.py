"""The console websocket: live tickets and messages, permissions, typing, origin, session end."""
import asyncio
import re
from types import SimpleNamespace

import aiohttp
import pytest

from bot.actions.operators import set_operator_active
from bot.actions.tickets import add_note, transfer_ticket
from bot.console.live import HUB
from bot.events import DeliveryChanged
from bot.gateway import DeskGateway
from tests.console.conftest import CHANNEL, csrf_of, frame


async def viewer(console, username):
    from bot.actions.operators import log_in

    return (await log_in(console.desk, username, "password-123"))[1]


async def test_a_client_message_reaches_the_operators_console_live(console):
    await console.add_operator("anna")
    async with await console.logged_in("anna") as s, await console.socket(s) as ws:
        await ws.send_json({"type": "ping"})
        assert await frame(ws) == {"type": "pong"}
        await console.client_writes("My order NW-1 is late", name="Jane")
        row = await frame(ws, "ticket")
        assert row["mine"] is True and "public_id" not in row["ticket"]
        assert {k: row["ticket"][k] for k in ("number", "subject", "client", "channel", "status", "queue", "assignee")} == {
            "number": 1001, "subject": "My order NW-1 is late", "client": "Jane", "channel": CHANNEL,
            "status": "new", "queue": "general", "assignee": ""}
        await ws.send_json({"type": "watch", "ticket": 1001, "after": 0})
        assert await frame(ws) == {"type": "watching", "ticket": 1001}
        await console.client_writes("Hello? Anyone?")
        message = (await frame(ws, "message"))["message"]
        assert (message["author"], message["author_name"], message["text"], message["outbound"]) == (
            "client", "Jane", "Hello? Anyone?", False)


async def test_watch_catches_up_on_messages_after_the_last_one_shown(console):
    await console.add_operator("anna")
    first = await console.client_writes("one")
    await console.client_writes("two")
    async with await console.logged_in("anna") as s, await console.socket(s) as ws:
        await ws.send_json({"type": "watch", "ticket": 1001, "after": first.message_id})
        assert (await frame(ws, "watching"))["type"] == "watching"
        assert (await frame(ws))["ticket"]["number"] == 1001  # the ticket as it is now
        assert (await frame(ws))["message"]["text"] == "two"


async def test_the_list_catches_up_on_what_changed_before_its_socket_opened(console):
    await console.add_operator("anna")
    async with await console.logged_in("anna") as s:
        async with s.get(f"{console.url}/console") as r:
            rendered_at = re.search(r'data-at="([^"]+)"', await r.text()).group(1)
        await console.client_writes("Arrived between the page and the socket")
        async with await console.socket(s) as ws:
            await ws.send_json({"type": "list", "tickets": [], "since": rendered_at})
            caught = await frame(ws)
            assert caught["type"] == "ticket" and caught["ticket"]["number"] == 1001 and caught["mine"]
            assert (await frame(ws))["type"] == "listed"


async def test_watch_reports_delivery_states_that_changed_before_it(console):
    await console.add_operator("anna")
    await console.client_writes("Hello?")
    sent = asyncio.Event()

    async def on_delivery(event):
        sent.set()

    console.desk.bus.subscribe(DeliveryChanged, on_delivery)
    async with await console.logged_in("anna") as s:
        async with s.get(f"{console.url}/console") as r:
            token = csrf_of(await r.text())
        async with s.post(f"{console.url}/console/tickets/1001/reply", data={"csrf_token": token, "text": "Hi!"}):
            pass
        await asyncio.wait_for(sent.wait(), 10)  # sent before anyone watched
        async with await console.socket(s) as ws:
            await ws.send_json({"type": "watch", "ticket": 1001})
            delivery = await frame(ws, "delivery")
            assert (delivery["ticket"], delivery["status"]) == (1001, "sent")


async def test_another_queues_ticket_is_refused_and_nothing_about_it_is_pushed(console):
    await console.add_operator("anna", queues=("general",))
    await console.add_operator("bob", queues=("billing",))
    await console.client_writes("General question", user="v1")
    await console.client_writes("Billing question", user="v2")
    async with await console.logged_in("bob") as s, await console.socket(s) as ws:
        for number in (1001, 999999, "1001", None):
            await ws.send_json({"type": "watch", "ticket": number})
            refused = await frame(ws)
            assert refused["type"] == "error" and refused["error"] == "no such ticket"
        await ws.send_json({"type": "list", "tickets": [1001, 1002], "since": "2000-01-01T00:00:00+00:00"})
        assert (await frame(ws))["type"] == "listed"  # and no ticket frames: neither is his
        await ws.send_json({"type": "typing", "ticket": 1001})
        await console.client_writes("Still general", user="v1")
        await add_note(console.desk, await viewer(console, "anna"), 1, "general note")
        # Events are pushed in order, so the first frame Bob gets must be about the ticket moved to him.
        await transfer_ticket(console.desk, await viewer(console, "anna"), 2, queue="billing")
        pushed = await frame(ws)
        assert pushed["type"] == "ticket" and pushed["ticket"]["number"] == 1002 and pushed["ticket"]["queue"] == "billing"


async def test_a_ticket_transferred_away_is_gone_from_the_old_queues_consoles(console):
    await console.add_operator("anna", queues=("general",))
    await console.add_operator("olga", role="admin", queues=())
    await console.client_writes("Hello")
    async with await console.logged_in("anna") as s, await console.socket(s) as ws:
        await ws.send_json({"type": "list", "tickets": [1001]})
        await ws.send_json({"type": "ping"})
        await frame(ws, "pong")
        await transfer_ticket(console.desk, await viewer(console, "olga"), 1, queue="billing")
        # Updates from before the transfer (the desk's own workers touch new tickets) may come first.
        assert await frame(ws, "gone") == {"type": "gone", "ticket": 1001}


async def test_notes_and_typing_reach_watchers(console):
    await console.add_operator("anna")
    await console.add_operator("bert")
    await console.client_writes("Hello", user="v1")
    async with await console.logged_in("anna") as a, await console.socket(a) as anna_ws, \
            await console.logged_in("bert") as b, await console.socket(b) as bert_ws:
        for ws in (anna_ws, bert_ws):
            await ws.send_json({"type": "watch", "ticket": 1001})
            await frame(ws, "watching")
        await anna_ws.send_json({"type": "typing", "ticket": 1001})
        assert await frame(bert_ws, "typing") == {"type": "typing", "ticket": 1001, "who": "operator", "name": "Anna"}
        await DeskGateway(console.desk).client_typing(CHANNEL, "v1")
        assert await frame(anna_ws, "typing") == {"type": "typing", "ticket": 1001, "who": "client"}
        async with a.get(f"{console.url}/console") as r:
            token = csrf_of(await r.text())
        async with a.post(f"{console.url}/console/tickets/1001/note", data={"csrf_token": token, "text": "call back at 5"}):
            pass
        note = (await frame(bert_ws, "note"))["note"]
        assert (note["author_name"], note["text"]) == ("Anna", "call back at 5")


async def test_operator_typing_is_published_for_the_channel(console, monkeypatch):
    from bot.console import socket
    from bot.events import OperatorTyping

    now = [1000.0]
    monkeypatch.setattr(socket, "typing_clock", lambda: now[0])
    await console.add_operator("anna")
    receipt = await console.client_writes("Hello")
    seen = []

    async def on_typing(event):
        seen.append(event)

    console.desk.bus.subscribe(OperatorTyping, on_typing)
    async with await console.logged_in("anna") as s, await console.socket(s) as ws:
        await ws.send_json({"type": "watch", "ticket": 1001})
        await frame(ws, "watching")
        await ws.send_json({"type": "typing", "ticket": 1001})
        await ws.send_json({"type": "typing", "ticket": 1001})  # throttled: same moment
        await ws.send_json({"type": "ping"})
        await frame(ws, "pong")
        await console.desk.bus.drain()
        assert len(seen) == 1
        now[0] += socket.TYPING_EVERY
        await ws.send_json({"type": "typing", "ticket": 1001})  # the window has passed
        await ws.send_json({"type": "ping"})
        await frame(ws, "pong")
    await console.desk.bus.drain()
    anna = (await viewer(console, "anna")).id
    assert [(e.ticket_id, e.operator_id) for e in seen] == [(receipt.ticket_id, anna)] * 2


@pytest.mark.parametrize("origin", ["http://evil.example", "null", ""])
async def test_a_socket_from_another_origin_is_refused(console, origin):
    await console.add_operator("anna")
    async with await console.logged_in("anna") as s:
        headers = {} if origin else {"Origin": ""}
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await s.ws_connect(f"{console.url}/console/ws", origin=origin or None, headers=headers)
        assert refused.value.status == 403


async def test_logout_closes_the_sessions_sockets(console):
    await console.add_operator("anna")
    async with await console.logged_in("anna") as s, await console.socket(s) as ws:
        async with s.get(f"{console.url}/console") as r:
            token = csrf_of(await r.text())
        async with s.post(f"{console.url}/console/logout", data={"csrf_token": token}, allow_redirects=False) as r:
            assert r.status == 303
        msg = await ws.receive(timeout=10)
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 4401


async def test_an_open_socket_closes_once_its_operator_is_disabled(console):
    await console.add_operator("anna")
    console.app[HUB].revalidate_seconds = 0.05
    async with await console.logged_in("anna") as s, await console.socket(s) as ws:
        await set_operator_active(console.desk, "anna", False)
        msg = await ws.receive(timeout=10)
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 4401


async def test_a_burst_of_messages_reaches_a_watcher_each_once_and_in_order(console):
    """The hub pushes events in batches: every message of a burst still arrives once, oldest first."""
    await console.add_operator("anna")
    await console.client_writes("first", name="Jane")
    async with await console.logged_in("anna") as s, await console.socket(s) as ws:
        await ws.send_json({"type": "watch", "ticket": 1001, "after": 0})
        assert await frame(ws, "watching") == {"type": "watching", "ticket": 1001}
        receipts = await asyncio.gather(*(console.client_writes(f"burst {i}") for i in range(20)))
        await console.desk.bus.drain()  # the hub's listener returns once its batch was pushed
        await ws.send_json({"type": "ping"})
        pushed, tickets = [], 0
        while (got := await frame(ws))["type"] != "pong":
            if got["type"] == "message":
                pushed.append(got["message"]["id"])
            tickets += got["type"] == "ticket"
        assert pushed == sorted(r.message_id for r in receipts)
        assert 1 <= tickets <= 21  # the row may be told once per batch, never missed


async def test_a_console_socket_that_stops_reading_is_dropped_not_waited_for(monkeypatch):
    from bot.console import live

    class StalledSocket:
        closed = False

        async def send_str(self, text):
            await asyncio.Event().wait()  # the peer's window is full: the write never completes

    class Transport:
        aborted = False

        def abort(self):
            self.aborted = True

        def is_closing(self):
            return False

        def get_write_buffer_size(self):
            return 80 * 1024  # the peer stopped reading: past asyncio's high-water mark

        def get_write_buffer_limits(self):
            return 16 * 1024, 64 * 1024

    monkeypatch.setattr(live, "SEND_TIMEOUT", 0)
    transport = Transport()
    anna = SimpleNamespace(username="anna")
    conn = live.Connection(StalledSocket(), viewer=anna, token="t", transport=transport)
    await conn.send_text('{"type": "pong"}')  # returns: the others' pushes go on
    assert transport.aborted
