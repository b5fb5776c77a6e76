"""Login, logout and sessions: generic failures, CSRF on the login form, expiry, disabled operators."""
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import update
from yarl import URL

from bot.actions.operators import set_operator_active
from bot.console.throttle import LoginThrottle
from bot.storage.models import OperatorSession, utcnow
from tests.console.conftest import csrf_of


def jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def login_next(response) -> str:
    location = URL(response.headers["Location"])
    assert location.path == "/console/login"
    return location.query["next"]


async def post_login(session, url, username, password, csrf=None, next_path=None):
    async with session.get(f"{url}/console/login") as r:
        token = csrf_of(await r.text())
    data = {"username": username, "password": password, "csrf_token": token if csrf is None else csrf}
    if next_path is not None:
        data["next"] = next_path
    async with session.post(f"{url}/console/login", data=data, allow_redirects=False) as r:
        return r.status, r.headers.get("Location"), await r.text(), r.headers.getall("Set-Cookie", [])


async def test_login_sets_a_locked_down_session_cookie_and_opens_the_console(console):
    await console.add_operator("anna")
    async with jar() as s:
        status, location, _, cookies = await post_login(s, console.url, "anna", "password-123")
        assert (status, location) == (303, "/console")
        session_cookie = next(c for c in cookies if c.startswith("hl_session="))
        assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie and "Path=/" in session_cookie
        assert "Secure" not in session_cookie  # secure_cookies is off in the test config
        async with s.get(f"{console.url}/console") as r:
            page = await r.text()
        assert r.status == 200 and "Anna" in page and 'action="/console/logout"' in page
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]


async def test_wrong_password_and_unknown_user_get_the_same_generic_error(console):
    await console.add_operator("anna")
    async with jar() as s:
        wrong = await post_login(s, console.url, "anna", "not-her-password")
        unknown = await post_login(s, console.url, "nobody", "password-123")
    assert wrong[0] == unknown[0] == 401
    assert "Wrong username or password." in wrong[2] and "Wrong username or password." in unknown[2]
    assert not any(c.startswith("hl_session=") for c in wrong[3] + unknown[3])


async def test_login_without_or_with_a_wrong_csrf_token_is_refused(console):
    await console.add_operator("anna")
    async with jar() as s:
        assert (await post_login(s, console.url, "anna", "password-123", csrf=""))[0] == 403
        assert (await post_login(s, console.url, "anna", "password-123", csrf="forged"))[0] == 403
    async with jar() as s:  # a token without the matching cookie (another browser's form)
        async with s.get(f"{console.url}/console/login") as r:
            token = csrf_of(await r.text())
    async with jar() as other:
        async with other.post(f"{console.url}/console/login", allow_redirects=False,
                              data={"username": "anna", "password": "password-123", "csrf_token": token}) as r:
            assert r.status == 403


async def test_repeated_failures_slow_down_even_the_right_password(console):
    await console.add_operator("anna")
    async with jar() as s:
        for _ in range(5):
            assert (await post_login(s, console.url, "anna", "guess"))[0] == 401
        status, _, page, _ = await post_login(s, console.url, "anna", "password-123")
    assert status == 429 and "Too many failed attempts" in page


def test_the_throttle_forgets_failures_after_its_window():
    now = [1000.0]
    throttle = LoginThrottle(max_failures=2, window=60, clock=lambda: now[0])
    key = throttle.key("Anna", "10.0.0.1")
    throttle.failed(key)
    throttle.failed(key)
    assert throttle.blocked(key) and throttle.blocked(throttle.key("anna ", "10.0.0.1"))
    assert not throttle.blocked(throttle.key("anna", "10.0.0.2"))
    now[0] += 61
    assert not throttle.blocked(key)


async def test_next_is_kept_for_local_console_paths_only(console):
    await console.add_operator("anna")
    async with jar() as s:
        async with s.get(f"{console.url}/console/tickets/1001", allow_redirects=False) as r:
            assert r.status == 303 and login_next(r) == "/console/tickets/1001"
        assert (await post_login(s, console.url, "anna", "password-123", next_path="/console/tickets/1001"))[1] == "/console/tickets/1001"
    for hostile in ("https://evil.example/", "//evil.example/console", "/\\evil.example", "javascript:alert(1)"):
        async with jar() as s:
            assert (await post_login(s, console.url, "anna", "password-123", next_path=hostile))[1] == "/console"


async def test_logout_needs_csrf_and_then_invalidates_the_cookie(console):
    await console.add_operator("anna")
    s = await console.logged_in("anna")
    async with s:
        async with s.get(f"{console.url}/console") as r:
            csrf = csrf_of(await r.text())
        stolen = s.cookie_jar.filter_cookies(URL(console.url))["hl_session"].value
        async with s.post(f"{console.url}/console/logout", data={}, allow_redirects=False) as r:
            assert r.status == 403
        async with s.post(f"{console.url}/console/logout", data={"csrf_token": "wrong"}, allow_redirects=False) as r:
            assert r.status == 403
        async with s.post(f"{console.url}/console/logout", data={"csrf_token": csrf}, allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (303, "/console/login")
    async with aiohttp.ClientSession(cookies={"hl_session": stolen}) as replay:
        async with replay.get(f"{console.url}/console", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith("/console/login")


async def test_an_expired_session_goes_back_to_login(console):
    await console.add_operator("anna")
    async with await console.logged_in("anna") as s:
        async with console.desk.sessions() as db, db.begin():
            await db.execute(update(OperatorSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        async with s.get(f"{console.url}/console/tickets/1001?x=1", allow_redirects=False) as r:
            assert r.status == 303 and login_next(r) == "/console/tickets/1001?x=1"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await s.ws_connect(f"{console.url}/console/ws", origin=console.url)
        assert refused.value.status == 401


async def test_a_disabled_operators_session_stops_working(console):
    await console.add_operator("anna")
    async with await console.logged_in("anna") as s:
        await set_operator_active(console.desk, "anna", False)
        async with s.get(f"{console.url}/console", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/console/login"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await s.ws_connect(f"{console.url}/console/ws", origin=console.url)
        assert refused.value.status == 401


def test_cookies_are_secure_when_the_desk_is_served_over_https(tmp_path):
    from aiohttp import web

    from bot.console.auth import set_cookie
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, "sqlite+aiosqlite:///unused.db", web={"secure_cookies": True})
    response = web.Response()
    set_cookie(response, settings, "hl_session", "token", max_age=60)
    cookie = response.cookies["hl_session"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
