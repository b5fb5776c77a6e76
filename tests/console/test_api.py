"""The REST API against a live desk: tokens, permissions, tickets, replies, notes, transfers, errors.

Every response is also checked against /api/openapi.json by the ApiClient.
"""
from __future__ import annotations

from bot.actions.inbox import receive_message
from bot.actions.operators import set_operator_active
from bot.domain import Attachment
from bot.storage.models import Message, Note, Ticket
from tests.console.api_client import PNG, desk_api, inbound, move_to, new_ticket  # noqa: F401 (desk_api is a fixture)


async def test_openapi_document_is_public_json(desk_api):
    client, _, _ = desk_api
    async with client.session.get(client.base_url + "/api/openapi.json") as r:
        assert r.status == 200 and r.content_type == "application/json"
        assert (await r.json())["openapi"].startswith("3.")


BAD_AUTHORIZATIONS = [None, "", "Bearer", "Bearer ", "Basic YW5uYTpwYXNz", "Bearer hl_wrong", "Bearer not-even-a-token",
                      "Bearer hl_" + "x" * 400, "bearer hl_\u00e9t\u00e9"]


async def test_requests_without_a_valid_token_get_401_with_a_bearer_challenge(desk_api):
    client, _, _ = desk_api
    for authorization in BAD_AUTHORIZATIONS:
        headers = {} if authorization is None else {"Authorization": authorization}
        reply = await client.as_(None).call("GET", "/api/v1/tickets", headers=headers)
        assert reply.status == 401, authorization
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
        assert reply.body["error"]["code"] in ("unauthorized", "invalid_token")


async def test_a_token_stops_working_when_its_operator_is_disabled(desk_api):
    client, desk, tokens = desk_api
    anna = client.as_(tokens["anna"])
    assert (await anna.get("/api/v1/tickets")).status == 200
    await set_operator_active(desk, "anna", False)
    reply = await anna.get("/api/v1/tickets")
    assert reply.status == 401 and 'error="invalid_token"' in reply.headers["WWW-Authenticate"]
    await set_operator_active(desk, "anna", True)  # enabling again does not revive revoked tokens
    assert (await anna.get("/api/v1/tickets")).status == 401


async def test_list_shows_only_visible_tickets_newest_first_with_filters(desk_api):
    client, desk, tokens = desk_api
    numbers = [await new_ticket(desk, f"visitor-{i}") for i in range(5)]
    await move_to(desk, tokens, numbers[1], "billing")
    anna, bob, boss = (client.as_(tokens[n]) for n in ("anna", "bob", "boss"))

    everything = (await boss.get("/api/v1/tickets")).body
    assert [t["number"] for t in everything["tickets"]] == sorted(numbers, reverse=True)
    assert everything["next_cursor"] is None
    assert [t["number"] for t in (await anna.get("/api/v1/tickets")).body["tickets"]] == \
        sorted(set(numbers) - {numbers[1]}, reverse=True)
    assert [t["number"] for t in (await bob.get("/api/v1/tickets")).body["tickets"]] == [numbers[1]]
    assert [t["number"] for t in (await boss.get("/api/v1/tickets", queue="billing")).body["tickets"]] == [numbers[1]]
    assert len((await boss.get("/api/v1/tickets", status="new")).body["tickets"]) == 5
    assert (await boss.get("/api/v1/tickets", status="resolved")).body["tickets"] == []

    await anna.post(f"/api/v1/tickets/{numbers[0]}/messages", {"text": "Looking into it."})  # assigns it to anna
    mine = (await boss.get("/api/v1/tickets", assignee="anna")).body["tickets"]
    assert [t["number"] for t in mine] == [numbers[0]] and mine[0]["assignee"]["username"] == "anna"
    assert numbers[0] not in [t["number"] for t in (await boss.get("/api/v1/tickets", assignee="none")).body["tickets"]]
    assert [t["number"] for t in (await boss.get("/api/v1/tickets", status="waiting")).body["tickets"]] == [numbers[0]]


async def test_cursor_pages_through_every_ticket_once(desk_api):
    client, desk, tokens = desk_api
    numbers = [await new_ticket(desk, f"visitor-{i}") for i in range(5)]
    boss = client.as_(tokens["boss"])
    seen, cursor = [], None
    for _ in range(10):  # bounded: 5 tickets in pages of 2 need 3 pages
        page = (await boss.get("/api/v1/tickets", limit="2", **({"cursor": cursor} if cursor else {}))).body
        assert len(page["tickets"]) <= 2
        seen += [t["number"] for t in page["tickets"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(numbers, reverse=True)


async def test_one_ticket_and_its_messages_with_attachments_and_after_cursor(desk_api):
    client, desk, tokens = desk_api
    number = await new_ticket(desk, "v1", attachments=(Attachment("receipt.png", "image/png", len(PNG), data=PNG),))
    await receive_message(desk, inbound("v1", 2, text="Hello?"))
    anna = client.as_(tokens["anna"])
    ticket = (await anna.get(f"/api/v1/tickets/{number}")).body
    assert ticket["number"] == number and ticket["queue"] == "general" and ticket["status"] == "new"
    assert ticket["assignee"] is None and ticket["subject"] == "Where is my order?"
    assert ticket["created_at"].endswith("Z")

    page = (await anna.get(f"/api/v1/tickets/{number}/messages")).body
    first, second = page["messages"]
    assert first["direction"] == "in" and first["author"] == {"kind": "client", "operator": None}
    assert first["delivery"]["status"] == "received"
    assert [(a["filename"], a["content_type"], a["size"]) for a in first["attachments"]] == [("receipt.png", "image/png", len(PNG))]
    assert second["text"] == "Hello?" and not page["has_more"] and page["next_after"] == second["id"]

    paged = (await anna.get(f"/api/v1/tickets/{number}/messages", limit="1")).body
    assert [m["id"] for m in paged["messages"]] == [first["id"]] and paged["has_more"]
    later = (await anna.get(f"/api/v1/tickets/{number}/messages", after=str(paged["next_after"]))).body
    assert [m["id"] for m in later["messages"]] == [second["id"]]
    assert (await anna.get(f"/api/v1/tickets/{number}/messages", after=str(second["id"]))).body["messages"] == []


async def test_reply_note_transfer_and_resolve(desk_api):
    client, desk, tokens = desk_api
    number = await new_ticket(desk, "v1")
    anna, bob, boss = (client.as_(tokens[n]) for n in ("anna", "bob", "boss"))

    reply = await anna.post(f"/api/v1/tickets/{number}/messages", {"text": "We are on it."})
    assert reply.status == 201
    assert reply.body["direction"] == "out" and reply.body["text"] == "We are on it."
    assert reply.body["author"] == {"kind": "operator", "operator": {"username": "anna", "display_name": "Anna"}}
    assert reply.body["delivery"]["status"] in ("queued", "sent", "delivered", "failed")
    messages = (await anna.get(f"/api/v1/tickets/{number}/messages")).body["messages"]
    assert [m["direction"] for m in messages] == ["in", "out"]
    ticket = (await anna.get(f"/api/v1/tickets/{number}")).body
    assert ticket["status"] == "waiting" and ticket["assignee"]["username"] == "anna"

    note = await anna.post(f"/api/v1/tickets/{number}/notes", {"text": "Client is a VIP."})
    assert note.status == 201 and note.body["author"]["username"] == "anna"
    assert [n["text"] for n in (await anna.get(f"/api/v1/tickets/{number}/notes")).body["notes"]] == ["Client is a VIP."]

    moved = await anna.post(f"/api/v1/tickets/{number}/transfer", {"queue": "billing", "note": "Refund question."})
    assert moved.status == 200 and moved.body["queue"] == "billing" and moved.body["assignee"] is None
    assert (await anna.get(f"/api/v1/tickets/{number}")).status == 404  # it left anna's queues
    notes = (await bob.get(f"/api/v1/tickets/{number}/notes")).body["notes"]
    assert [n["text"] for n in notes] == ["Client is a VIP.", "Refund question."]

    assigned = await boss.post(f"/api/v1/tickets/{number}/transfer", {"operator": "bob"})
    assert assigned.body["assignee"]["username"] == "bob"
    refused = await boss.post(f"/api/v1/tickets/{number}/transfer", {"operator": "anna"})
    assert refused.status == 422 and "queue" in refused.body["error"]["message"]

    resolved = await bob.post(f"/api/v1/tickets/{number}/resolve")
    assert resolved.status == 200 and resolved.body["status"] == "resolved"
    again = await bob.post(f"/api/v1/tickets/{number}/resolve", {})
    assert again.status == 200 and again.body["status"] == "resolved"
    assert [t["number"] for t in (await bob.get("/api/v1/tickets", status="resolved")).body["tickets"]] == [number]


async def test_another_queues_ticket_is_a_404_exactly_like_a_missing_one(desk_api):
    client, desk, tokens = desk_api
    number = await new_ticket(desk, "v1")
    bob = client.as_(tokens["bob"])
    hidden = await bob.get(f"/api/v1/tickets/{number}")
    missing = await bob.get("/api/v1/tickets/999999")
    assert hidden.status == missing.status == 404
    assert hidden.body["error"]["code"] == missing.body["error"]["code"] == "not_found"
    assert hidden.body["error"]["message"].replace(str(number), "N") == missing.body["error"]["message"].replace("999999", "N")
    for path, body in (("messages", None), ("notes", None)):
        assert (await bob.get(f"/api/v1/tickets/{number}/{path}")).status == 404
    for path, body in (("messages", {"text": "hi"}), ("notes", {"text": "hi"}), ("resolve", None),
                       ("transfer", {"queue": "billing"})):
        assert (await bob.post(f"/api/v1/tickets/{number}/{path}", body)).status == 404
    async with desk.sessions() as s:
        ticket = (await s.execute(Ticket.__table__.select().where(Ticket.number == number))).first()
        assert ticket.status == "new" and ticket.assignee_id is None
        assert (await s.execute(Note.__table__.select())).first() is None
        assert len((await s.execute(Message.__table__.select())).all()) == 1
