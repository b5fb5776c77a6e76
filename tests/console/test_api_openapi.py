"""/api/openapi.json matches the implementation: the same routes, and real responses that validate."""
from __future__ import annotations

import re

from jsonschema import Draft202012Validator

from bot.app import create_app
from bot.console.openapi import DOCUMENT
from tests.conftest import make_settings
from tests.console.api_client import desk_api, new_ticket  # noqa: F401 (desk_api is a fixture)

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def documented_operations() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item if method in METHODS}


def test_every_api_route_is_documented_and_every_documented_operation_is_routed(tmp_path):
    app = create_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"))
    routed = {(route.method, route.resource.canonical) for route in app.router.routes()
              if route.resource is not None and route.resource.canonical.startswith("/api/v1")}
    assert routed == documented_operations()
    assert ("GET", "/api/openapi.json") in {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource}


def test_the_document_is_well_formed():
    assert DOCUMENT["openapi"].startswith("3.1")
    assert DOCUMENT["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "hl_ token"}
    for name, schema in DOCUMENT["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    refs = set(re.findall(r"#/components/schemas/(\w+)", str(DOCUMENT)))
    assert refs <= set(DOCUMENT["components"]["schemas"])
    operation_ids = [op["operationId"] for item in DOCUMENT["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))
    for path, item in DOCUMENT["paths"].items():
        for method, op in item.items():
            declared = {p["name"] for p in op.get("parameters", ()) if p["in"] == "path"}
            assert declared == set(re.findall(r"\{(\w+)\}", path)), (method, path)
            assert "401" in op["responses"], f"{method} {path} needs a token, so it documents 401"
            assert any(code.startswith("2") for code in op["responses"]), (method, path)


async def test_every_documented_operation_answers_as_documented(desk_api):
    """One successful call per operation; the ApiClient validates each body against the document."""
    client, desk, tokens = desk_api
    number = await new_ticket(desk, "v1")
    anna = client.as_(tokens["anna"])
    calls = {
        ("GET", "/api/v1/tickets"): lambda: anna.get("/api/v1/tickets", status="active", limit="10"),
        ("GET", "/api/v1/tickets/{number}"): lambda: anna.get(f"/api/v1/tickets/{number}"),
        ("GET", "/api/v1/tickets/{number}/messages"): lambda: anna.get(f"/api/v1/tickets/{number}/messages"),
        ("POST", "/api/v1/tickets/{number}/messages"): lambda: anna.post(f"/api/v1/tickets/{number}/messages", {"text": "Hi"}),
        ("GET", "/api/v1/tickets/{number}/notes"): lambda: anna.get(f"/api/v1/tickets/{number}/notes"),
        ("POST", "/api/v1/tickets/{number}/notes"): lambda: anna.post(f"/api/v1/tickets/{number}/notes", {"text": "Note"}),
        ("POST", "/api/v1/tickets/{number}/resolve"): lambda: anna.post(f"/api/v1/tickets/{number}/resolve"),
        ("POST", "/api/v1/tickets/{number}/transfer"): lambda: anna.post(f"/api/v1/tickets/{number}/transfer",
                                                                          {"queue": "billing", "note": "over to you"}),
    }
    client_id = (await anna.get(f"/api/v1/tickets/{number}")).body["client"]["id"]
    admin = client.as_(tokens["boss"])
    calls[("GET", "/api/v1/clients/{client_id}/segment")] = lambda: admin.get(f"/api/v1/clients/{client_id}/segment")
    calls[("POST", "/api/v1/clients/{client_id}/segment")] = lambda: admin.post(
        f"/api/v1/clients/{client_id}/segment", {"segment": "loyal", "add_tag": "VIP"})
    calls[("GET", "/api/v1/clients/{client_id}/export")] = lambda: admin.get(f"/api/v1/clients/{client_id}/export")
    calls[("POST", "/api/v1/clients/{client_id}/erase")] = lambda: admin.post(f"/api/v1/clients/{client_id}/erase")
    calls[("GET", "/api/v1/clients/{client_id}/audit")] = lambda: admin.get(f"/api/v1/clients/{client_id}/audit")
    assert set(calls) == documented_operations()
    for (method, path), call in calls.items():
        reply = await call()
        expected = next(code for code in DOCUMENT["paths"][path][method.lower()]["responses"] if code.startswith("2"))
        assert reply.status == int(expected), (method, path, reply.body)
    # After the transfer the ticket is in billing, with its messages, note and queue as returned.
    boss = client.as_(tokens["boss"])
    ticket = (await boss.get(f"/api/v1/tickets/{number}")).body
    assert ticket["queue"] == "billing" and ticket["status"] == "resolved"
