"""A REST API client for tests that checks every response against the OpenAPI document.

Each call finds the documented operation for its method and path, and fails the test when the
status is not documented for it or the body does not validate against the documented schema, so
every API test is also a conformance test of /api/openapi.json.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import aiohttp
import pytest
from jsonschema import Draft202012Validator

from bot.actions.inbox import receive_message
from bot.actions.operators import create_api_token, token_viewer
from bot.actions.tickets import transfer_ticket
from bot.console.openapi import DOCUMENT
from bot.domain import InboundMessage
from bot.storage.queries import ticket_row_by_number


@dataclass
class Reply:
    status: int
    headers: dict
    body: object


def _template(path: str) -> str | None:
    """The documented path template a concrete /api/v1 path matches, if any."""
    for template in DOCUMENT["paths"]:
        pattern = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    return None


def validate(schema: dict, body: object) -> None:
    """Validate a body against a schema of the document (its $refs resolve inside the document)."""
    Draft202012Validator({"components": DOCUMENT["components"], **schema}).validate(body)


def check_against_document(method: str, path: str, status: int, content_type: str, body: object) -> None:
    assert content_type == "application/json", f"{method} {path} answered {content_type}"
    template = _template(path.split("?")[0])
    operation = DOCUMENT["paths"].get(template, {}).get(method.lower()) if template else None
    if operation is None:  # an undocumented path or method: the error envelope still applies
        validate({"$ref": "#/components/schemas/Error"}, body)
        return
    documented = operation["responses"].get(str(status))
    assert documented, f"{method} {template} answered {status}, which is not documented: {body}"
    validate(documented["content"]["application/json"]["schema"], body)


class ApiClient:
    """Calls the API of a live server with an optional bearer token."""

    def __init__(self, base_url: str, token: str | None = None):
        self.base_url = base_url
        self.token = token
        self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        await self.session.close()

    def as_(self, token: str | None) -> "ApiClient":
        other = ApiClient.__new__(ApiClient)
        other.base_url, other.token, other.session = self.base_url, token, self.session
        return other

    async def call(self, method: str, path: str, *, json_body: object = None, data: bytes | str | None = None,
                   headers: dict | None = None, params: dict | None = None) -> Reply:
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        if json_body is not None:
            data = json.dumps(json_body)
            sent.setdefault("Content-Type", "application/json")
        async with self.session.request(method, self.base_url + path, data=data, headers=sent, params=params) as r:
            body = json.loads(await r.read())
            check_against_document(method, path, r.status, r.content_type, body)
            return Reply(r.status, dict(r.headers), body)

    async def get(self, path: str, **params) -> Reply:
        return await self.call("GET", path, params=params or None)

    async def post(self, path: str, body: object = None, **kw) -> Reply:
        return await self.call("POST", path, json_body=body, **kw)


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def inbound(user: str, n: int = 1, text: str = "Where is my order?", **kw) -> InboundMessage:
    return InboundMessage(channel="webchat", user_id=user, chat_id=user, message_id=f"{user}:m{n}", text=text,
                          sent_at=datetime.now(timezone.utc), **kw)


@pytest.fixture
async def desk_api(live_server):
    """Operators anna (general), bob (billing) and boss (admin), each with a token, and a client."""
    desk = live_server.desk
    tokens = {}
    for name, role, queues in (("anna", "operator", ["general"]), ("bob", "operator", ["billing"]),
                               ("boss", "admin", [])):
        await live_server.add_operator(name, role=role, queues=queues)
        tokens[name] = await create_api_token(desk, name, "tests")
    client = ApiClient(live_server.url)
    yield client, desk, tokens
    await client.close()


async def new_ticket(desk, user: str, text: str = "Where is my order?", **kw) -> int:
    return (await receive_message(desk, inbound(user, text=text, **kw))).ticket_number


async def move_to(desk, tokens, number: int, queue: str) -> None:
    boss = await token_viewer(desk, tokens["boss"])
    async with desk.sessions() as s:
        row = await ticket_row_by_number(s, number)
    await transfer_ticket(desk, boss, row.id, queue=queue)
