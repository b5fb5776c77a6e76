"""schemathesis against /api/openapi.json of a live desk: no 5xx, every answer as documented.

Each documented operation is called with generated requests (valid ones, and invalid ones in
schemathesis' negative mode) under an admin token, once with the path's ids as generated and once
with them pinned to a real ticket or client, so generated bodies reach the handlers. The
server runs on this test's event loop; schemathesis' blocking calls run in a worker thread.
"""
from __future__ import annotations

import asyncio
from collections import Counter

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, negative_data_rejection, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)
from schemathesis.core.failures import FailureGroup

from tests.console.api_client import desk_api, new_ticket  # noqa: F401 (desk_api is a fixture)

CHECKS = [negative_data_rejection, not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 12


def fuzz(base_url: str, token: str, pinned: dict[str, object], statuses: Counter) -> list[str]:
    """Run every operation in both modes; the failures, one line each (empty when all passed)."""
    with requests.get(f"{base_url}/api/openapi.json", timeout=10) as r:
        r.raise_for_status()
        schema = schemathesis.openapi.from_dict(r.json())
    failures: list[str] = []
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for pin in (False, True):
                params = {k: v for k, v in pinned.items() if "{" + k + "}" in operation.path} if pin else None
                if pin and not params:
                    continue
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=params)

                @settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck))
                @given(case=strategy)
                def run(case):
                    response = case.call_and_validate(base_url=base_url, session=session, headers=headers,
                                                      checks=CHECKS, timeout=30)
                    statuses[(operation.method.upper(), operation.path, response.status_code)] += 1

                try:
                    run()
                except (AssertionError, FailureGroup) as exc:
                    failures.append(f"{operation.method.upper()} {operation.path} [{mode.value}{', pinned' if pin else ''}]: "
                                    f"{str(exc)[:1500]}")
    session.close()
    return failures


async def test_every_operation_survives_generated_requests(desk_api):
    client, desk, tokens = desk_api
    number = await new_ticket(desk, "fuzz-visitor", text="Where is my parcel?")
    ticket = await client.as_(tokens["boss"]).get(f"/api/v1/tickets/{number}")
    pinned = {"number": number, "client_id": ticket.body["client"]["id"]}
    statuses: Counter = Counter()
    failures = await asyncio.to_thread(fuzz, client.base_url, tokens["boss"], pinned, statuses)
    assert not failures, "\n\n".join(failures)
    # the generated requests got past authentication and validation into the handlers, and were also refused
    codes = {code for (_, _, code) in statuses}
    assert {200, 201, 401, 404, 422} <= codes, sorted(statuses.items())
    for method, path in {(m, p) for (m, p, _) in statuses}:
        assert any(statuses[(method, path, c)] for c in (200, 201)) or path.endswith("/transfer"), (method, path)
    # and the desk still answers a plain request afterwards
    assert (await client.as_(tokens["anna"]).get("/api/v1/tickets")).status == 200


async def test_the_fuzzer_reports_a_server_error_and_an_undocumented_answer():
    """The harness itself can fail: a stand-in server with the same document that answers 500 and 418."""
    from aiohttp import web

    from bot.console.openapi import DOCUMENT
    from tests.conftest import free_port

    async def broken(request: web.Request) -> web.Response:
        if request.method == "GET" and request.path == "/api/openapi.json":
            return web.json_response(DOCUMENT)
        status = 500 if request.method == "POST" else 418
        return web.json_response({"error": {"code": "boom", "message": "boom"}}, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", broken)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        failures = await asyncio.to_thread(fuzz, f"http://127.0.0.1:{port}", "hl_x", {"number": 1, "client_id": 1},
                                           Counter())
    finally:
        await runner.cleanup()
    posts = [f for f in failures if f.startswith("POST")]
    gets = [f for f in failures if f.startswith("GET")]
    assert posts and all("Server error" in f for f in posts), failures[:3]
    assert gets and all("Undocumented status code" in f for f in gets), failures[:3]
