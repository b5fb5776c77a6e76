"""Who may read and change what: every route x every kind of caller; bad tokens; security headers; CSRF.

The matrix is keyed by the app's own routes, so a route added without a row here fails the test.
A caller is *denied* when answered 401, 403 or 404 (a ticket one may not see looks missing) or sent
to the login form; *let in* when the answer is anything else below 500 (a 400 for an incomplete form
still means the access check passed). The visitors present their web-chat token every way a server
might read one (bearer header, session cookie, visitor header), and none of it opens the console or API.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from urllib.parse import urlsplit
from html.parser import HTMLParser

import aiohttp
from aiohttp import web

from bot.actions.inbox import receive_message
from bot.actions.operators import create_api_token, log_in, session_viewer
from bot.domain import InboundMessage
from tests.channels.webchat.conftest import Chat, start_desk
from tests.channels.webchat.test_uploads import form, png, upload
from tests.conftest import LiveServer

ROLES = ("anonymous", "visitor", "other_visitor", "other_queue", "operator", "supervisor", "manager", "admin")
STAFF = {"other_queue", "operator", "supervisor", "manager", "admin"}
OF_QUEUE = {"operator", "supervisor", "admin"}  # the ticket is in "general"; the manager has no queues; admins see all
MANAGING = {"supervisor", "manager", "admin"}
EVERYONE = set(ROLES)
OWNER = {"visitor"}
SETUP = {  # role: (queues, desk role)
    "other_queue": (["billing"], "operator"), "operator": (["general"], "operator"),
    "supervisor": (["general"], "supervisor"), "manager": ([], "manager"), "admin": ([], "admin"),
}

# (method, route) -> (who is let in, path with ids filled from the scene, form or JSON body).
# Keys in {braces} come from the scene built below; "any" marks ids that need not exist (a wrong one is a 404
# for everyone, so only the denials are proved there).
MATRIX: dict[tuple[str, str], tuple[set[str], str, dict | None]] = {
    ("GET", "/healthz"): (EVERYONE, "/healthz", None),
    ("GET", "/metrics"): (EVERYONE, "/metrics", None),
    ("GET", "/api/openapi.json"): (EVERYONE, "/api/openapi.json", None),
    ("GET", "/api/v1/tickets"): (STAFF, "/api/v1/tickets", None),
    ("GET", "/api/v1/tickets/{number}"): (OF_QUEUE, "/api/v1/tickets/{ticket}", None),
    ("GET", "/api/v1/tickets/{number}/messages"): (OF_QUEUE, "/api/v1/tickets/{ticket}/messages", None),
    ("POST", "/api/v1/tickets/{number}/messages"): (OF_QUEUE, "/api/v1/tickets/{ticket}/messages", {"json": {"text": "hi"}}),
    ("GET", "/api/v1/tickets/{number}/notes"): (OF_QUEUE, "/api/v1/tickets/{ticket}/notes", None),
    ("POST", "/api/v1/tickets/{number}/notes"): (OF_QUEUE, "/api/v1/tickets/{ticket}/notes", {"json": {"text": "n"}}),
    ("POST", "/api/v1/tickets/{number}/resolve"): (OF_QUEUE, "/api/v1/tickets/{fresh}/resolve", {"json": {}}),
    ("POST", "/api/v1/tickets/{number}/transfer"): (OF_QUEUE, "/api/v1/tickets/{fresh}/transfer", {"json": {"queue": "delivery"}}),
    ("GET", "/api/v1/clients/{client_id}/segment"): (MANAGING, "/api/v1/clients/{client}/segment", None),
    ("POST", "/api/v1/clients/{client_id}/segment"): ({"admin"}, "/api/v1/clients/{client}/segment", {"json": {"tags": ["vip"]}}),
    ("GET", "/api/v1/clients/{client_id}/export"): ({"admin"}, "/api/v1/clients/{client}/export", None),
    ("POST", "/api/v1/clients/{client_id}/erase"): ({"admin"}, "/api/v1/clients/{other_client}/erase", {"json": {}}),
    ("GET", "/api/v1/clients/{client_id}/audit"): ({"admin"}, "/api/v1/clients/{client}/audit", None),
    ("GET", "/console"): (STAFF, "/console", None),
    ("GET", "/console/"): (EVERYONE, "/console/", None),  # a redirect to /console
    ("GET", "/console/login"): (EVERYONE, "/console/login", None),
    ("POST", "/console/login"): (set(), "/console/login", {"form": {"username": "x", "password": "y"}}),  # no login nonce: 403
    ("POST", "/console/logout"): (STAFF, "/console/logout", {"form": {}}),  # test_logout_ends_the_session
    ("GET", "/console/ws"): (STAFF, "/console/ws", None),  # subscriptions: test_console_socket_subscriptions
    ("GET", "/console/tickets/{number}"): (OF_QUEUE, "/console/tickets/{ticket}", None),
    ("POST", "/console/tickets/{number}/reply"): (OF_QUEUE, "/console/tickets/{fresh}/reply", {"form": {"text": "hi"}}),
    ("POST", "/console/tickets/{number}/note"): (OF_QUEUE, "/console/tickets/{fresh}/note", {"form": {"text": "n"}}),
    ("POST", "/console/tickets/{number}/take"): (OF_QUEUE, "/console/tickets/{fresh}/take", {"form": {}}),
    ("POST", "/console/tickets/{number}/resolve"): (OF_QUEUE, "/console/tickets/{fresh}/resolve", {"form": {}}),
    ("POST", "/console/tickets/{number}/reopen"): (OF_QUEUE, "/console/tickets/{fresh}/reopen", {"form": {}}),
    ("POST", "/console/tickets/{number}/transfer"): (OF_QUEUE, "/console/tickets/{fresh}/transfer", {"form": {"queue": "delivery"}}),
    ("POST", "/console/tickets/{number}/accept"): (OF_QUEUE, "/console/tickets/{fresh}/accept", {"form": {}}),
    ("POST", "/console/tickets/{number}/reject"): (OF_QUEUE, "/console/tickets/{fresh}/reject", {"form": {}}),
    ("POST", "/console/tickets/{number}/wrong-queue"): (OF_QUEUE, "/console/tickets/{fresh}/wrong-queue", {"form": {}}),
    ("POST", "/console/tickets/{number}/complaint"): (OF_QUEUE, "/console/tickets/{fresh}/complaint", {"form": {}}),
    ("GET", "/console/attachments/{id}"): (OF_QUEUE, "/console/attachments/{attachment}", None),
    ("GET", "/console/messages/{id}/original"): (OF_QUEUE, "/console/messages/{original}/original", None),
    ("GET", "/console/messages/{id}/original.eml"): (OF_QUEUE, "/console/messages/{original}/original.eml", None),
    ("GET", "/console/operators"): (MANAGING, "/console/operators", None),
    ("POST", "/console/language"): (STAFF, "/console/language", {"form": {"language": "de"}}),
    ("GET", "/console/unanswered"): (MANAGING, "/console/unanswered", None),
    ("POST", "/console/unanswered/cover"): (MANAGING, "/console/unanswered/cover", {"form": {"id": "999999"}}),
    ("GET", "/console/account"): (STAFF, "/console/account", None),
    ("POST", "/console/account"): (STAFF, "/console/account", {"form": {"current_password": "wrong", "new_password": "x" * 9,
                                                                      "new_password_again": "x" * 9}}),  # test_sessions.py
    ("GET", "/console/static"): (EVERYONE, "/console/static/console.css", None),
    ("POST", "/console/status"): (STAFF, "/console/status", {"form": {"status": "away"}}),
    ("GET", "/console/alerts"): (STAFF, "/console/alerts", None),
    ("POST", "/console/alerts/read"): (STAFF, "/console/alerts/read", {"form": {}}),
    ("GET", "/console/routing"): (MANAGING, "/console/routing", None),
    ("GET", "/survey/{token}"): (set(), "/survey/{any}", None),
    ("POST", "/survey/{token}"): (set(), "/survey/{any}", {"form": {"score": "5"}}),
    ("GET", "/console/complaints"): (MANAGING, "/console/complaints", None),
    ("GET", "/console/complaints/{reference}"): (MANAGING, "/console/complaints/{complaint}", None),
    ("POST", "/console/complaints/{reference}/edit"): (MANAGING, "/console/complaints/{complaint}/edit", {"form": {}}),
    ("POST", "/console/complaints/{reference}/status"): (MANAGING, "/console/complaints/{complaint}/status", {"form": {}}),
    ("GET", "/console/follow-ups"): (MANAGING, "/console/follow-ups", None),
    ("POST", "/console/follow-ups/{id}/done"): (STAFF, "/console/follow-ups/{any}/done", {"form": {"outcome": "called back"}}),
    ("GET", "/console/digest"): (MANAGING, "/console/digest", None),
    ("GET", "/feedback/static"): (EVERYONE, "/feedback/static/feedback.css", None),
    ("GET", "/"): (EVERYONE, "/", None),
    ("GET", "/chat"): (EVERYONE, "/chat", None),
    ("GET", "/chat/ws"): (EVERYONE, "/chat/ws", None),  # a visitor's own conversation: test_chat_socket_is_per_visitor
    ("GET", "/widget.js"): (EVERYONE, "/widget.js", None),
    ("GET", "/chat/static/{name}"): (EVERYONE, "/chat/static/chat.css", None),
    ("POST", "/chat/upload"): ({"visitor", "other_visitor"}, "/chat/upload", {"upload": True}),
    ("GET", "/chat/attachments/{id}"): (OWNER, "/chat/attachments/{attachment}", None),
}
# Ids that need not exist: only denials are proved for them (everyone else gets an honest 404).
NO_SUCH_ID = "987654"
# Checked by their own steps below rather than by one request each.
SPECIAL = {("GET", "/console/ws"), ("GET", "/chat/ws"), ("POST", "/console/logout")}


def app_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, route) of everything the app serves; HEAD goes with GET."""
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        found.add((route.method, route.resource.canonical if route.resource else ""))
    return found


class Caller:
    """One kind of caller: the headers and cookies it presents everywhere."""

    def __init__(self, role: str, headers: dict[str, str] | None = None, cookie: str = "", csrf: str = "",
                 api: str = "") -> None:
        self.role, self.headers, self.cookie, self.csrf, self.api = role, dict(headers or {}), cookie, csrf, api

    def request_headers(self, path: str) -> dict[str, str]:
        headers = dict(self.headers)
        if self.api and path.startswith("/api/"):
            headers["Authorization"] = f"Bearer {self.api}"
        if self.cookie:
            headers["Cookie"] = f"hl_session={self.cookie}"
        return headers


async def scene(server: LiveServer, chat: Chat) -> tuple[dict[str, Caller], dict]:
    """Two visitors (one with a ticket and a file), five operators with sessions and API tokens."""
    owner, stranger = await chat.visitor(), await chat.visitor()
    status, ack = await upload(chat, owner.token, form("f1", png(), "receipt.png", "image/png", "my receipt"))
    assert status == 200, ack
    frame = await owner.message()
    callers = {"anonymous": Caller("anonymous")}
    for role, visitor in (("visitor", owner), ("other_visitor", stranger)):
        callers[role] = Caller(role, {"X-Visitor-Token": visitor.token, "Authorization": f"Bearer {visitor.token}"},
                               cookie=visitor.token)
    for role, (queues, desk_role) in SETUP.items():
        await server.add_operator(role, desk_role, queues)
        token, _viewer = await log_in(server.desk, role, "password-123")
        _v, csrf = await session_viewer(server.desk, token)
        callers[role] = Caller(role, cookie=token, csrf=csrf, api=await create_api_token(server.desk, role))
    ids = {"ticket": ack["ticket"], "attachment": frame["attachments"][0]["id"], "any": NO_SUCH_ID,
           "client": await client_of(server, callers["admin"], ack["ticket"])}
    ids["original"] = await message_with_original(server)
    ids["other_client"] = await client_of(server, callers["admin"], await fresh_ticket(chat))  # erased by the admin
    ids["complaint"] = await complaint_of(server, callers["admin"], await fresh_ticket(chat))
    await owner.ws.close()
    await stranger.ws.close()
    return callers, ids


async def message_with_original(server: LiveServer) -> int:
    """A message kept with its original as received (as the email channel stores one), in the general queue."""
    receipt = await receive_message(server.desk, InboundMessage(
        channel="mailbox", user_id="ann@example.com", chat_id="ann@example.com", message_id="<m1@example.com>",
        text="hello", sent_at=datetime.now(timezone.utc), raw=b"From: ann@example.com\r\nSubject: hi\r\n\r\nhello\r\n",
        html="<p>hello</p>"))
    return receipt.message_id


async def complaint_of(server: LiveServer, admin: Caller, number: int) -> str:
    """Mark a ticket as a complaint from the console; its reference (C-n) is where the form leads."""
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{server.url}/console/tickets/{number}/complaint", data={"csrf_token": admin.csrf},
                          headers=admin.request_headers(""), allow_redirects=False) as r:
            assert r.status == 303, r.status
        async with s.get(f"{server.url}/console/complaints", headers=admin.request_headers("")) as r:
            return re.search(r"/console/complaints/(C-\d+)", await r.text()).group(1)


async def client_of(server: LiveServer, admin: Caller, number: int) -> int:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{server.url}/api/v1/tickets/{number}", headers=admin.request_headers("/api/")) as r:
            body = await r.json()
            assert r.status == 200, body
            return body["client"]["id"] if isinstance(body.get("client"), dict) else body["client_id"]


async def fresh_ticket(chat: Chat) -> int:
    """A new visitor's new ticket, so a change by one caller never hides the next caller's result."""
    visitor = await chat.visitor()
    ack = await visitor.say("m1", "please help")
    await visitor.ws.close()
    return ack["ticket"]


async def call(session: aiohttp.ClientSession, url: str, method: str, path: str, caller: Caller,
               body: dict | None) -> tuple[int, str]:
    headers = caller.request_headers(path)
    kw: dict = {"headers": headers, "allow_redirects": False}
    if body and "json" in body:
        kw["json"] = body["json"]
    elif body and "upload" in body:
        kw["data"] = form(f"u-{caller.role}", png(), "a.png", "image/png", "file")
    elif body is not None:
        kw["data"] = {**body["form"], **({"csrf_token": caller.csrf} if caller.csrf else {})}
    async with session.request(method, url + path, **kw) as r:
        return r.status, r.headers.get("Location", "")


def denied(status: int, location: str) -> bool:
    return status in (401, 403, 404) or (status in (302, 303) and location.startswith("/console/login"))


async def test_every_route_by_every_role(tmp_path, database_url):
    server, runner = await start_desk(tmp_path, database_url)
    try:
        routes = app_routes(server.app)
        assert routes - set(MATRIX) == set(), "routes without a row in the access matrix"
        assert set(MATRIX) - routes == set(), "matrix rows for routes the app no longer has"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
            chat = Chat(server, session)
            callers, ids = await scene(server, chat)
            wrong = []
            for (method, route), (allowed, template, body) in sorted(MATRIX.items(), ):
                if (method, route) in SPECIAL:
                    continue
                for role in ROLES:
                    values = dict(ids)
                    if "{fresh}" in template:
                        values["fresh"] = await fresh_ticket(chat)
                    path = template.format(**values)
                    status, location = await call(session, server.url, method, path, callers[role], body)
                    if status >= 500:
                        wrong.append(f"{role:>13} {method} {path}: server error {status}")
                    elif role in allowed and denied(status, location) and "{any}" not in template:
                        wrong.append(f"{role:>13} {method} {path}: refused ({status} {location})")
                    elif role not in allowed and not denied(status, location):
                        wrong.append(f"{role:>13} {method} {path}: let in ({status} {location})")
            assert not wrong, "\n".join(wrong)
            await console_socket_subscriptions(server, session, callers, ids)
            await chat_socket_is_per_visitor(chat, callers, ids)
            await bad_bearer_tokens_are_refused(server, session, callers)
            await html_pages_carry_security_headers(server, session, callers, ids)
            await every_console_form_needs_its_csrf_token(server, session, callers, ids)
            await logout_ends_the_session(server, session, callers)
    finally:
        await runner.cleanup()


async def console_socket_subscriptions(server: LiveServer, session, callers: dict[str, Caller], ids: dict) -> None:
    """Only operators connect; watching a ticket needs the ticket's queue (or admin)."""
    for role in ROLES:
        headers = {**callers[role].request_headers("/console/ws"), "Origin": server.url}
        if role not in STAFF:
            try:
                ws = await session.ws_connect(f"{server.url}/console/ws", headers=headers)
            except aiohttp.WSServerHandshakeError as exc:
                assert exc.status in (401, 403), (role, exc.status)
                continue
            raise AssertionError(f"{role} opened the console socket")
        async with session.ws_connect(f"{server.url}/console/ws", headers=headers) as ws:
            await ws.send_json({"type": "watch", "ticket": ids["ticket"], "after": 0})
            frame = json.loads((await ws.receive(timeout=10)).data)
            expected = "watching" if role in OF_QUEUE else "error"
            assert frame["type"] == expected, (role, frame)


async def chat_socket_is_per_visitor(chat: Chat, callers: dict[str, Caller], ids: dict) -> None:
    """Another visitor (or an operator's cookie) on the chat socket sees none of the owner's conversation."""
    stranger = await chat.visitor(token=callers["other_visitor"].headers["X-Visitor-Token"])
    assert all("my receipt" not in json.dumps(f) for f in stranger.history)
    await stranger.ws.close()
    admin = await chat.visitor(headers={"Cookie": f"hl_session={callers['admin'].cookie}"})
    assert admin.history == [] and admin.token not in (callers["visitor"].headers["X-Visitor-Token"],)
    await admin.ws.close()
    owner = await chat.visitor(token=callers["visitor"].headers["X-Visitor-Token"])
    assert any(m.get("text") == "my receipt" for m in owner.history)
    await owner.ws.close()


async def logout_ends_the_session(server: LiveServer, session, callers: dict[str, Caller]) -> None:
    """Logging out needs the session's CSRF token and ends that session only."""
    admin, operator = callers["admin"], callers["operator"]
    status, location = await call(session, server.url, "POST", "/console/logout", Caller("x", cookie=admin.cookie), {"form": {}})
    assert status == 403, "a logout without the form's token"
    status, location = await call(session, server.url, "POST", "/console/logout", admin, {"form": {}})
    assert status == 303, status
    status, location = await call(session, server.url, "GET", "/console", admin, None)
    assert denied(status, location), "the session still works after logging out"
    status, location = await call(session, server.url, "GET", "/console", operator, None)
    assert status == 200, "logging out one operator ended another's session"


async def bad_bearer_tokens_are_refused(server: LiveServer, session, callers: dict[str, Caller]) -> None:
    """Empty, malformed, foreign and almost-right tokens get 401 on the API, never data."""
    good = callers["admin"].api
    values = ["", "Bearer", "Bearer ", "Bearer  ", "bearer", f"Basic {good}", f"Token {good}", good, "Bearer hl_",
              f"Bearer {good[:-1]}", f"Bearer {good}x", f"Bearer {good} {good}", "Bearer " + "hl_" + "a" * 300,
              "Bearer null", "Bearer undefined", f"Bearer {callers['visitor'].cookie}",
              f"Bearer {callers['admin'].cookie}", f"Bearer {callers['admin'].csrf}", "Bearer hl_%00", "Bearer ../../"]
    for value in values:
        async with session.get(f"{server.url}/api/v1/tickets", headers={"Authorization": value}) as r:
            assert r.status == 401, (value, r.status)
            assert "tickets" not in await r.json()


class Forms(HTMLParser):
    """The POST forms of a page: action and field names; and whether the page has inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self.forms.append((a.get("action") or "", {}))
        elif tag in ("input", "textarea", "select", "button") and self.forms and a.get("name"):
            self.forms[-1][1].setdefault(a["name"], a.get("value") or "")
        elif tag == "script" and not a.get("src"):
            self.inline_scripts += 1


HTML_PAGES = ["/", "/chat", "/chat?embed=1", "/console/login", "/console", "/console/tickets/{ticket}", "/console/operators",
              "/console/alerts", "/console/routing", "/console/complaints", "/console/follow-ups", "/console/digest",
              "/survey/{any}", "/console/tickets/{any}", "/console/complaints/{complaint}",
              "/console/account", "/console/unanswered"]


async def html_pages_carry_security_headers(server: LiveServer, session, callers: dict[str, Caller], ids: dict) -> None:
    """A CSP without inline scripts on every HTML page (errors too); only the embedded chat may be framed."""
    seen = set()
    for template in HTML_PAGES:
        path = template.format(**ids)
        caller = callers["anonymous" if path == "/console/login" else "admin"]
        async with session.get(server.url + path, headers=caller.request_headers(path), allow_redirects=False) as r:
            assert r.content_type == "text/html", (path, r.status, r.content_type)
            csp = r.headers.get("Content-Security-Policy", "")
            directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
            scripts = directives.get("script-src", directives.get("default-src"))
            assert scripts is not None and "'unsafe-inline'" not in scripts, (path, csp)
            parsed = Forms()
            parsed.feed(await r.text())
            assert parsed.inline_scripts == 0, f"{path} has an inline script the CSP would block"
            if path == "/chat?embed=1":
                assert directives.get("frame-ancestors") != ["'none'"] and "X-Frame-Options" not in r.headers, path
            else:
                assert directives.get("frame-ancestors") == ["'none'"] and r.headers.get("X-Frame-Options") == "DENY", path
            assert r.headers.get("X-Content-Type-Options") == "nosniff", path
            seen.add(urlsplit(path).path)
    for method, route in app_routes(server.app):  # every HTML GET route of the console is among the pages above
        if method == "GET" and route.startswith("/console") and not route.startswith(("/console/static", "/console/ws")) \
                and "attachments" not in route and "original" not in route and route != "/console/":
            assert any(re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", route), p) for p in seen), f"{route} not checked for headers"


async def every_console_form_needs_its_csrf_token(server: LiveServer, session, callers: dict[str, Caller], ids: dict) -> None:
    """Each POST form of each page carries a csrf_token; its target refuses the form without it (403)."""
    admin = callers["admin"]
    forms: dict[str, dict[str, str]] = {}
    for template in HTML_PAGES:
        path = template.format(**ids)
        if not path.startswith("/console") or path == "/console/login":
            continue  # the login form's token is checked in tests/console/test_login.py
        async with session.get(server.url + path, headers=admin.request_headers(path), allow_redirects=False) as r:
            parsed = Forms()
            parsed.feed(await r.text())
        for action, fields in parsed.forms:
            assert "csrf_token" in fields, f"the form to {action} on {path} has no CSRF token"
            forms[urlsplit(action or path).path] = fields
    assert len(forms) >= 8, sorted(forms)
    posts = {route for method, route in app_routes(server.app) if method == "POST"}
    for action, fields in sorted(forms.items()):
        assert any(re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", route), action) for route in posts), action
        if action == "/console/logout":
            continue  # checked by logout_ends_the_session
        without = {k: v for k, v in fields.items() if k != "csrf_token"}
        for token in (None, "", "x" * 43, callers["operator"].csrf):
            data = without if token is None else {**without, "csrf_token": token}
            async with session.post(server.url + action, data=data, headers=admin.request_headers(action),
                                    allow_redirects=False) as r:
                assert r.status == 403, (action, token, r.status)
