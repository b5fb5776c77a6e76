"""Every console form, found by crawling the pages, takes hostile and malformed fields without a 5xx.

The forms are read from the rendered pages (so a new form is covered without editing this test);
each is posted with its CSRF token and hidden fields kept, and its other fields empty, hostile,
oversized, NUL, out of range, or not UTF-8 at all. Pages that come back must show it all as text.
"""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import quote, urljoin

from bot.actions.complaints import mark_complaint
from tests.feedback.conftest import client_writes, fserver, operator  # noqa: F401 (fserver is a fixture)
from tests.security.hostile import PAYLOAD, assert_inert

SKIP = ("/console/logout",)  # ends the session the crawl runs in
VARIANTS = {"empty": "", "hostile": PAYLOAD, "huge": "x" * 200_000, "nul": "a\x00b", "number": "99999999999999999999",
            "negative": "-1", "date": "2026-02-30"}
# "next"-style fields must never send the operator off the desk.
REDIRECTS = {"absolute": "https://evil.example/", "scheme-relative": "//evil.example/x", "backslash": "/\\evil.example",
             "script": "javascript:alert(1)", "header": "/console\r\nSet-Cookie: x=1"}


class Forms(HTMLParser):
    """The POST forms of a page: action, hidden fields, names of the other fields and their choices."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self.forms.append({"action": a.get("action") or "", "hidden": {}, "fields": set()})
        elif tag in ("input", "textarea", "select") and self.forms and a.get("name"):
            if a.get("type") == "hidden":
                self.forms[-1]["hidden"][a["name"]] = a.get("value") or ""
            else:
                self.forms[-1]["fields"].add(a["name"])


async def collect_forms(http, base: str, paths: list[str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for path in paths:
        async with http.get(base + path) as r:
            assert r.status == 200, (path, r.status)
            parser = Forms()
            parser.feed(await r.text())
        for form in parser.forms:
            action = urljoin(base + path, form["action"])
            if not any(action.split("?")[0].endswith(s) for s in SKIP):
                found.setdefault(action, form)
    return found


async def test_every_console_form_refuses_bad_fields_without_a_server_error(fserver):
    desk = fserver.desk
    root = await operator(desk, "root", role="admin", queues=("general", "billing", "delivery", "complaints"))
    receipt = await client_writes(desk, "Where is my parcel?")
    await mark_complaint(desk, root, receipt.ticket_id, "late")
    await client_writes(desk, "Another question", user="client-2")
    await desk.bus.drain()
    pages = ["/console", "/console/tickets/1001", "/console/tickets/1002", "/console/complaints/C-1001",
             "/console/follow-ups", "/console/account", "/console/operators", "/console/routing", "/console/alerts"]
    async with await fserver.logged_in("root") as http:
        forms = await collect_forms(http, fserver.url, pages)
        assert len(forms) >= 8, sorted(forms)  # reply, note, resolve, transfer, complaint, language, account, ...
        problems = []
        for action, form in sorted(forms.items()):
            hidden = [name for name in form["hidden"] if name != "csrf_token"]
            for variant, value in {**VARIANTS, **REDIRECTS}.items():
                for fuzzed in (form["fields"], hidden):
                    if not fuzzed:
                        continue
                    data = {**form["hidden"], **{name: value for name in fuzzed}}
                    async with http.post(action, data=data, allow_redirects=False) as r:
                        body = await r.text()
                        where = f"{action} [{variant} in {sorted(fuzzed)}]"
                        if r.status >= 500:
                            problems.append(f"{where}: {r.status}")
                        elif variant == "nul" and (r.status != 400 or "NUL character" not in body):
                            problems.append(f"{where}: {r.status} instead of the NUL refusal")
                        elif r.content_type == "text/html":
                            assert_inert(body, where)
                        if 300 <= r.status < 400:
                            target = r.headers.get("Location", "")
                            if not (target.startswith("/") and not target.startswith(("//", "/\\"))):
                                problems.append(f"{where}: redirects off the desk to {target!r}")
            raw = "&".join([f"{k}={quote(v)}" for k, v in form["hidden"].items()] +
                           [f"{name}=%FF%FE%C0" for name in form["fields"]])
            async with http.post(action, data=raw, headers={"Content-Type": "application/x-www-form-urlencoded"},
                                 allow_redirects=False) as r:
                if r.status >= 500:
                    problems.append(f"{action} [not UTF-8]: {r.status}")
        assert not problems, "\n".join(problems)
        async with http.get(f"{fserver.url}/console") as r:
            assert r.status == 200  # the desk (and this session) still serve


async def test_login_and_survey_forms_refuse_nul_and_bytes_without_a_server_error(fserver):
    """The two forms outside the operator's session: the login form and a client's survey link."""
    import re

    import aiohttp

    from tests.feedback.test_survey_link import _survey_link
    from tests.feedback.conftest import resolved_ticket

    anna = await operator(fserver.desk, "anna")
    link = await _survey_link(fserver, await resolved_ticket(fserver.desk, anna))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for value in ("a\x00b", PAYLOAD, "x" * 200_000):
            async with http.get(f"{fserver.url}/console/login") as r:
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', await r.text()).group(1)
            async with http.post(f"{fserver.url}/console/login", allow_redirects=False,
                                 data={"csrf_token": csrf, "username": value, "password": value}) as r:
                assert r.status in (400, 401, 403, 429), (value[:10], r.status)
                assert_inert(await r.text(), "login")
            async with http.post(link, data={"score": "2", "comment": value}) as r:
                assert r.status in (200, 400, 413, 422), (value[:10], r.status)
                assert_inert(await r.text(), "survey")
        async with http.post(link, data="score=%FF&comment=%FF%FE", headers={"Content-Type": "application/x-www-form-urlencoded"}) as r:
            assert r.status < 500
