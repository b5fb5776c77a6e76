"""Bad and hostile input to the REST API: a clear JSON 4xx naming the field, never a 500, text kept verbatim."""
from __future__ import annotations

import json

import pytest

from bot.actions.tickets import MAX_REPLY
from bot.storage.models import Message, Note
from tests.console.api_client import desk_api, new_ticket  # noqa: F401 (desk_api is a fixture)

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def anna_ticket(desk_api):
    client, desk, tokens = desk_api
    number = await new_ticket(desk, "v1")
    return client.as_(tokens["anna"]), desk, number


# One live desk serves every case of a table below (a desk per case would cost a second each).
BAD_BODIES = [
    ("{not json", JSON, 400, "invalid_json", None),
    ('{"text": "unterminated', JSON, 400, "invalid_json", None),
    (b'{"text": "\xff\xfe"}', JSON, 400, "invalid_json", None),
    ("[" * 100_000 + "]" * 100_000, JSON, 400, "invalid_json", None),
    ('["text"]', JSON, 400, "invalid_json", None),
    ('"just a string"', JSON, 400, "invalid_json", None),
    ("null", JSON, 400, "invalid_json", None),
    ("", JSON, 400, "invalid_json", None),
    ('{"text": 42}', JSON, 422, "invalid_field", "text"),
    ('{"text": null}', JSON, 422, "invalid_field", "text"),
    ('{"text": ["a"]}', JSON, 422, "invalid_field", "text"),
    ('{"text": {"$gt": ""}}', JSON, 422, "invalid_field", "text"),
    ('{"text": true}', JSON, 422, "invalid_field", "text"),
    ('{}', JSON, 422, "missing_field", "text"),
    ('{"text": "hi", "attachments": []}', JSON, 422, "unknown_field", "attachments"),
    ('{"txt": "hi"}', JSON, 422, "unknown_field", "txt"),
    ('{"text": ""}', JSON, 422, "invalid_field", "text"),
    ('{"text": " \\n\\t "}', JSON, 422, "invalid_field", "text"),
    ('{"text": "a\\u0000b"}', JSON, 422, "invalid_field", "text"),
    ('{"text": "lone \\ud800 surrogate"}', JSON, 422, "invalid_field", "text"),
    (json.dumps({"text": "x" * (MAX_REPLY + 1)}), JSON, 422, "invalid_field", "text"),
    ('{"text": "hi"}', {"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", None),
    ('{"text": "hi"}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type", None),
    ('{"text": "' + "x" * 300_000 + '"}', JSON, 413, "too_large", None),
]


async def test_bad_reply_bodies_get_a_clear_error(anna_ticket):
    anna, desk, number = anna_ticket
    for data, headers, status, code, field in BAD_BODIES:
        reply = await anna.call("POST", f"/api/v1/tickets/{number}/messages", data=data, headers=headers)
        got = (reply.status, reply.body["error"]["code"], reply.body["error"].get("field"))
        assert got == (status, code, field), (data[:80], reply.body)
        assert reply.body["error"]["message"]
    async with desk.sessions() as s:
        assert len((await s.execute(Message.__table__.select())).all()) == 1  # only the client's message


BAD_TRANSFERS = [
    ({}, 422, "queue"),
    ({"queue": "", "operator": ""}, 422, "queue"),
    ({"queue": 7}, 422, "queue"),
    ({"queue": "billing", "priority": "high"}, 422, "priority"),
    ({"queue": "q" * 49}, 422, "queue"),
    ({"queue": "nowhere"}, 422, None),
    ({"operator": "nobody"}, 422, None),
]


async def test_bad_transfers_get_a_clear_error(anna_ticket):
    anna, _, number = anna_ticket
    for body, status, field in BAD_TRANSFERS:
        reply = await anna.post(f"/api/v1/tickets/{number}/transfer", body)
        assert (reply.status, reply.body["error"].get("field")) == (status, field), (body, reply.body)
    assert (await anna.get(f"/api/v1/tickets/{number}")).body["queue"] == "general"


async def test_resolve_refuses_fields(anna_ticket):
    anna, _, number = anna_ticket
    reply = await anna.post(f"/api/v1/tickets/{number}/resolve", {"status": "closed"})
    assert (reply.status, reply.body["error"]["field"]) == (422, "status")


BAD_PARAMETERS = [
    ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"), ({"limit": "ten"}, "limit"), ({"limit": "1e3"}, "limit"),
    ({"limit": "-5"}, "limit"), ({"limit": "99999999999999999999999"}, "limit"), ({"status": "done"}, "status"),
    ({"cursor": "abc"}, "cursor"), ({"cursor": "9" * 30}, "cursor"), ({"queue": "nowhere"}, "queue"),
    ({"queue": "gen\x00eral"}, "queue"), ({"assignee": "x" * 100}, "assignee"), ({"page": "2"}, "page"),
    ({"limit": ["1", "2"]}, "limit"),
]


async def test_bad_list_parameters_name_the_parameter(desk_api):
    client, _, tokens = desk_api
    for params, field in BAD_PARAMETERS:
        query = [(k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])]
        reply = await client.as_(tokens["boss"]).call("GET", "/api/v1/tickets", params=query)
        assert (reply.status, reply.body["error"]["field"]) == (422, field), (params, reply.body)


ODD_PATHS = [
    ("/api/v1/tickets/abc", 404), ("/api/v1/tickets/99999999999999999999999", 404), ("/api/v1/tickets/-1", 404),
    ("/api/v1/nothing", 404), ("/api/v2/tickets", 404), ("/api/v1/tickets/1001/messages?after=x", 422),
]


async def test_odd_paths_get_json_errors(anna_ticket):
    anna, _, _ = anna_ticket
    for path, status in ODD_PATHS:
        assert (await anna.call("GET", path)).status == status, path


async def test_a_wrong_method_gets_405_with_allow(anna_ticket):
    anna, _, number = anna_ticket
    reply = await anna.call("DELETE", f"/api/v1/tickets/{number}")
    assert reply.status == 405 and "GET" in reply.headers["Allow"] and reply.body["error"]["code"] == "method_not_allowed"


HOSTILE = [
    '<script>alert("x")</script><img src=x onerror=alert(1)>',
    "'; DROP TABLE tickets; --",
    "{{ 7*7 }} ${7*7} %s %n",
    "\u202eRTL override \u200b zero width \U0001F642 emoji Ünïcödé кириллица",
    "line one\nline two\ttabbed \\ backslash \" quote",
]


async def test_hostile_text_is_stored_and_returned_verbatim_as_json(anna_ticket):
    anna, desk, number = anna_ticket
    for text in HOSTILE:
        reply = await anna.post(f"/api/v1/tickets/{number}/messages", {"text": text})
        note = await anna.post(f"/api/v1/tickets/{number}/notes", {"text": text})
        assert reply.status == note.status == 201
        assert reply.headers["Content-Type"].startswith("application/json")
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.body["text"] == note.body["text"] == text
        listed = (await anna.get(f"/api/v1/tickets/{number}/messages")).body["messages"]
        assert listed[-1]["text"] == text
        async with desk.sessions() as s:
            assert (await s.get(Message, reply.body["id"])).text == text
            assert (await s.get(Note, note.body["id"])).text == text
