"""Bad input over the websocket gets a clear error frame, and the server keeps serving everyone else."""
from __future__ import annotations

import json

import aiohttp
from aiohttp import WSCloseCode
from sqlalchemy import func, select

from bot.storage.models import Message


async def message_count(desk) -> int:
    async with desk.sessions() as s:
        return (await s.execute(select(func.count()).select_from(Message))).scalar_one()


async def still_serving(chat) -> None:
    """Another visitor can still talk to the desk."""
    other = await chat.visitor()
    await other.say("alive", "still there?")
    await other.ws.close()


async def test_frame_level_mistakes_get_errors_and_the_socket_stays_open(strict_chat):
    visitor = await strict_chat.visitor()
    cases = [
        ("{not json", "bad_json", None),
        ('"just a string"', "bad_json", None),
        (json.dumps({"type": "dance"}), "unknown_type", None),
        (json.dumps({"type": "message", "text": "no id"}), "invalid_frame", None),
        (json.dumps({"type": "message", "id": "e1", "text": "   "}), "empty_message", "e1"),
        (json.dumps({"type": "message", "id": "e2", "text": "x" * 41}), "message_too_long", "e2"),
        (json.dumps({"type": "message", "id": "e3", "text": "hi", "email": "nope"}), "invalid_frame", "e3"),
        (json.dumps({"type": "seen", "up_to": -4}), "invalid_frame", None),
        (json.dumps({"type": "hello", "token": None}), "invalid_frame", None),
        (json.dumps({"type": "message", "id": "e4", "text": "x" * 5000}), "frame_too_large", None),
    ]
    for raw, code, client_id in cases:
        await visitor.send(raw)
        error = await visitor.next()
        assert error["type"] == "error" and error["code"] == code, (raw[:60], error)
        assert error["message"] and error.get("id") == client_id
    await visitor.ws.send_bytes(b"\x00\x01binary")
    error = await visitor.next()
    assert error["code"] == "binary_not_supported"
    # The same socket still works, and nothing bad was stored.
    await visitor.say("ok", "a fine message")
    assert await message_count(strict_chat.desk) == 1


async def test_rate_limit_per_visitor(strict_chat):
    visitor = await strict_chat.visitor()
    for i in range(3):
        await visitor.say(f"r{i}", f"message {i}")
    await visitor.send({"type": "message", "id": "r3", "text": "one too many"})
    error = await visitor.next("error")
    assert error["code"] == "rate_limited" and error["id"] == "r3" and 0 < error["retry_after"] <= 60
    assert await message_count(strict_chat.desk) == 3
    # Another visitor has a budget of their own.
    await still_serving(strict_chat)


async def test_too_many_connections_from_one_address_are_refused_with_a_reason(strict_chat):
    first = await strict_chat.visitor()
    second = await strict_chat.visitor()
    third = await strict_chat.raw()
    frame = json.loads((await third.receive()).data)
    assert frame["type"] == "error" and frame["code"] == "too_many_connections" and "2" in frame["message"]
    closing = await third.receive()
    assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == WSCloseCode.TRY_AGAIN_LATER
    # The open ones keep working, and a slot freed is a slot taken again.
    await first.say("f1", "still fine")
    await second.ws.close()
    await still_serving(strict_chat)


async def test_the_first_frame_must_be_hello(strict_chat):
    ws = await strict_chat.raw()
    await ws.send_str(json.dumps({"type": "message", "id": "a", "text": "hi"}))
    frame = json.loads((await ws.receive()).data)
    assert frame["code"] == "hello_required"
    assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSE
    assert await message_count(strict_chat.desk) == 0
    binary = await strict_chat.raw()
    await binary.send_bytes(b"hello?")
    assert json.loads((await binary.receive()).data)["code"] == "hello_required"


async def test_a_frame_past_the_hard_limit_gets_an_error_then_a_close(strict_chat):
    visitor = await strict_chat.visitor()
    await visitor.send("x" * 300_000)
    closing = await visitor.closed()
    assert visitor.frames[-1]["code"] == "frame_too_large"
    assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == WSCloseCode.MESSAGE_TOO_BIG
    await still_serving(strict_chat)

