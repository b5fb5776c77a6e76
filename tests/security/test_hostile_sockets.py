"""Malformed, binary, invalid UTF-8 and oversized frames on both websockets: a clear error or a close,
and the desk keeps serving another client."""
from __future__ import annotations

import json

import aiohttp
from aiohttp import WSCloseCode, WSMsgType

from tests.channels.webchat.conftest import chat  # noqa: F401 (a fixture)
from tests.console.conftest import frame


async def send_raw_text(ws: aiohttp.ClientWebSocketResponse, payload: bytes) -> None:
    """A text frame with bytes that are not UTF-8: no client library sends one, an attacker does."""
    await ws._writer.send_frame(payload, WSMsgType.TEXT)


async def still_chatting(chat) -> None:
    other = await chat.visitor()
    await other.say("alive", "still there?")
    await other.ws.close()


async def test_widget_socket_survives_invalid_utf8_and_a_1mb_frame(chat):
    visitor = await chat.visitor()
    await send_raw_text(visitor.ws, b'{"type":"message","id":"u1","text":"\xff\xfe\xc0\xaf"}')
    closing = await visitor.closed()
    assert closing.type == WSMsgType.CLOSE and closing.data == WSCloseCode.INVALID_TEXT
    await still_chatting(chat)

    big = await chat.visitor()
    await big.send({"type": "message", "id": "big", "text": "x" * 1_000_000})
    closing = await big.closed()
    assert big.frames[-1]["type"] == "error" and big.frames[-1]["code"] == "frame_too_large"
    assert closing.data == WSCloseCode.MESSAGE_TOO_BIG
    await still_chatting(chat)


async def test_console_socket_answers_junk_with_an_error_and_stays_open(chat):
    server = chat.server
    await server.add_operator("anna")
    async with await server.logged_in("anna") as anna:
        async with anna.ws_connect(f"{server.url}/console/ws", origin=server.url) as ws:
            junk = ["{not json", "[]", '"x"', json.dumps({"type": 5}), "[" * 5000 + "]" * 5000,
                    json.dumps({"type": "watch", "ticket": "1 OR 1=1"}), json.dumps({"type": "list", "tickets": "all"}),
                    json.dumps({"type": "list", "tickets": [{"a": 1}] * 50, "since": "\x00" * 30}),
                    json.dumps({"type": "typing", "ticket": [1]}), json.dumps({"type": "watch", "ticket": 10**30})]
            for raw in junk:
                await ws.send_str(raw)
                await ws.send_json({"type": "ping"})  # every junk frame gets at most an error, then the pong
                answers = [await frame(ws)]
                while answers[-1]["type"] != "pong":
                    answers.append(await frame(ws))
                assert all(a["type"] in ("error", "listed") for a in answers[:-1]), (raw[:40], answers)
            await ws.send_bytes(b"\x00\x01binary")
            await ws.send_json({"type": "ping"})
            assert (await frame(ws))["type"] == "pong"  # the binary frame was ignored, the socket still works
            await ws.send_str("x" * 100_000)
            closing = await ws.receive()
            assert closing.type == WSMsgType.CLOSE and closing.data == WSCloseCode.MESSAGE_TOO_BIG
        async with anna.ws_connect(f"{server.url}/console/ws", origin=server.url) as ws:
            await send_raw_text(ws, b'{"type":"ping","x":"\xff"}')
            closing = await ws.receive()
            assert closing.type == WSMsgType.CLOSE and closing.data == WSCloseCode.INVALID_TEXT
        async with anna.ws_connect(f"{server.url}/console/ws", origin=server.url) as ws:
            await ws.send_json({"type": "ping"})
            assert (await frame(ws))["type"] == "pong"
    await still_chatting(chat)
