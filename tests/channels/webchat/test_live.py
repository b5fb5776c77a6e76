"""The websocket against a live desk: acknowledge after commit, store once, resume without loss."""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import func, select

from bot.storage.models import ChannelIdentity, Message, Ticket


async def stored_messages(desk) -> list[Message]:
    async with desk.sessions() as s:
        return list((await s.execute(select(Message).order_by(Message.id))).scalars())


async def test_a_new_visitor_gets_an_unguessable_token_and_an_empty_history(chat):
    visitor = await chat.visitor()
    assert len(visitor.token) >= 43 and visitor.history == []
    assert visitor.welcome["limits"]["max_message_chars"] == 4000
    other = await chat.visitor()
    assert other.token != visitor.token


async def test_a_malformed_token_is_replaced_by_a_new_one(chat):
    visitor = await chat.visitor(token="short")
    assert visitor.token != "short" and len(visitor.token) >= 43


async def test_the_ack_comes_after_the_message_is_committed(chat):
    visitor = await chat.visitor()
    ack = await visitor.say("c1", "Where is my order NW-100200?", name="Jane", email="jane@example.com")
    assert ack == {"type": "ack", "id": "c1", "message_id": ack["message_id"], "ticket": 1001}
    # The ack came, so the message is in the database: read it with a new session.
    [message] = await stored_messages(chat.desk)
    key = hashlib.sha256(visitor.token.encode()).hexdigest()
    assert message.id == ack["message_id"] and message.text == "Where is my order NW-100200?"
    assert message.external_id == f"{key}:c1"
    async with chat.desk.sessions() as s:
        identity = (await s.execute(select(ChannelIdentity))).scalar_one()
        ticket = (await s.execute(select(Ticket))).scalar_one()
    # The desk knows the visitor by a hash of the token, never by the token itself.
    assert identity.external_id == key and ticket.chat_id == key
    assert identity.display_name == "Jane" and identity.claimed_email == "jane@example.com"
    assert ticket.language == "en"
    # The stored message comes back as a message frame carrying the client's own id.
    echo = await visitor.message()
    assert echo["message_id"] == ack["message_id"] and echo["client_id"] == "c1" and echo["author"] == "client"


async def test_a_resent_client_id_gets_the_same_ack_and_is_stored_once(chat):
    visitor = await chat.visitor()
    first = await visitor.say("same-id", "Hello?")
    await visitor.ws.close()
    again = await chat.visitor(token=visitor.token, last_seen=0)
    assert [f["client_id"] for f in again.history] == ["same-id"]
    second = await again.say("same-id", "Hello?")
    assert second == first
    assert len(await stored_messages(chat.desk)) == 1


async def test_resume_from_last_seen_replays_only_newer_messages_in_order(chat):
    visitor = await chat.visitor()
    acks = [await visitor.say(f"m{i}", f"message {i}") for i in range(4)]
    await visitor.ws.close()
    resumed = await chat.visitor(token=visitor.token, last_seen=acks[1]["message_id"])
    assert [f["message_id"] for f in resumed.history] == [a["message_id"] for a in acks[2:]]
    assert [f["client_id"] for f in resumed.history] == ["m2", "m3"]
    assert [f["text"] for f in resumed.history] == ["message 2", "message 3"]
    everything = await chat.visitor(token=visitor.token)
    assert [f["client_id"] for f in everything.history] == ["m0", "m1", "m2", "m3"]


async def test_a_second_tab_of_the_same_visitor_sees_new_messages(chat):
    tab1 = await chat.visitor()
    tab2 = await chat.visitor(token=tab1.token)
    ack = await tab1.say("x1", "from the first tab")
    frame = await tab2.message()
    assert frame["message_id"] == ack["message_id"] and frame["client_id"] == "x1"


async def test_every_message_reaches_each_tab_once_and_a_reconnect_repeats_none(chat):
    tab1 = await chat.visitor()
    tab2 = await chat.visitor(token=tab1.token)
    acks = [await tab1.say(f"t{i}", f"message {i}") for i in range(5)]
    ids = [a["message_id"] for a in acks]
    # tab1 handles its frames in order (each message is pushed before its next frame is read);
    # tab2 is pushed from tab1's handler, so wait for the last message there first.
    await tab2.message(lambda f: f["message_id"] == ids[-1])
    for tab in (tab1, tab2):
        await tab.send({"type": "ping"})
        await tab.next("pong")  # every frame the socket carried so far is in tab.frames now
        assert [f["message_id"] for f in tab.frames if f["type"] == "message"] == ids
    await tab1.ws.close()
    resumed = await chat.visitor(token=tab1.token, last_seen=ids[2])
    assert [f["message_id"] for f in resumed.history] == ids[3:]
    ack = await resumed.say("t5", "after the reconnect")
    await resumed.send({"type": "ping"})
    await resumed.next("pong")
    assert [f["message_id"] for f in resumed.frames if f["type"] == "message"] == ids[3:] + [ack["message_id"]]


async def test_another_token_sees_nothing_of_the_conversation(chat):
    owner = await chat.visitor()
    await owner.say("secret", "my address is 1 Main Street")
    assert (await owner.message())["client_id"] == "secret"  # the owner's own stored message
    stranger = await chat.visitor(last_seen=0)
    assert stranger.history == []
    guesser = await chat.visitor(token="A" * 43)
    assert guesser.history == []
    await guesser.say("g1", "anyone there?")
    # The owner's socket gets only their own stream: the next frame is a pong, not the stranger's text.
    await owner.send({"type": "ping"})
    assert (await owner.next("message", "pong"))["type"] == "pong"
    async with chat.desk.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Ticket))).scalar_one() == 2


async def test_hostile_text_is_stored_verbatim(chat):
    visitor = await chat.visitor()
    text = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'
    await visitor.say("h1", text)
    [message] = await stored_messages(chat.desk)
    assert message.text == text
    assert (await visitor.message())["text"] == text


async def test_unstorable_characters_are_cleaned_not_fatal(chat):
    visitor = await chat.visitor()
    # A NUL (PostgreSQL refuses it) and a lone surrogate (not UTF-8) inside a JSON string.
    await visitor.send('{"type":"message","id":"u1","text":"a\\u0000b \\ud800 c"}')
    assert (await visitor.next("ack", "error"))["type"] == "ack"
    [message] = await stored_messages(chat.desk)
    assert message.text == "ab \ufffd c"


async def test_ping_pong(chat):
    visitor = await chat.visitor()
    await visitor.send({"type": "ping"})
    assert await visitor.next() == {"type": "pong"}


async def test_stop_closes_every_socket_and_is_safe_twice(chat):
    from aiohttp import WSCloseCode, WSMsgType

    from bot.app import ADAPTERS
    from bot.domain import OutboundMessage

    adapter = chat.server.app[ADAPTERS]["webchat"]
    tabs = [await chat.visitor(), await chat.visitor()]
    await adapter.stop()
    await adapter.stop()
    for tab in tabs:
        closing = await tab.closed()
        assert closing.type == WSMsgType.CLOSE and closing.data == WSCloseCode.GOING_AWAY
    late = await chat.raw()
    assert json.loads((await late.receive()).data)["code"] == "unavailable"
    # With nobody connected a reply is still "sent": it is stored, and the visitor gets it on resume.
    reply = OutboundMessage(channel="webchat", chat_id="0" * 64, text="hi", message_id=99, ticket_public_id="t")
    assert await adapter.send(reply) == "99"


async def test_server_shutdown_closes_open_sockets_first(tmp_path, database_url):
    """Open websockets would otherwise hold the server's graceful shutdown for its whole timeout."""
    import aiohttp
    from aiohttp import WSCloseCode, WSMsgType

    from tests.channels.webchat.conftest import Chat, start_desk

    server, runner = await start_desk(tmp_path, database_url)
    try:
        async with aiohttp.ClientSession() as session:
            visitor = await Chat(server, session).visitor()
            await server.app.shutdown()  # what the runner does before waiting for open handlers
            closing = await visitor.closed()
            assert closing.type == WSMsgType.CLOSE and closing.data == WSCloseCode.GOING_AWAY
    finally:
        await runner.cleanup()
