"""Sessions and tokens end with the password that opened them, and with the operator's access.

A password change (console or CLI) ends every other console session of the operator and revokes
all their API tokens; the session that made the change in the console carries on. Disabling an
operator ends them all. Empty, malformed and over-long tokens are refused like unknown ones.
"""
from __future__ import annotations

import re

import aiohttp
import pytest

from bot.actions.operators import change_password, create_api_token, log_in, set_operator_active
from tests.conftest import LiveServer
from tests.test_cli import config, helpline, viewer_of_token  # noqa: F401 (the CLI's config fixture)

OLD, NEW = "password-123", "a-much-longer-secret-42"


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def console_status(session: aiohttp.ClientSession, server: LiveServer) -> int:
    """200 for a live session; 303 (to the login form) for an ended one."""
    async with session.get(f"{server.url}/console", allow_redirects=False) as r:
        if r.status == 303:
            assert r.headers["Location"] == "/console/login"
        return r.status


async def api_status(server: LiveServer, authorization: str) -> int:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{server.url}/api/v1/tickets", headers={"Authorization": authorization}) as r:
            return r.status


async def change_in_console(session: aiohttp.ClientSession, server: LiveServer, current: str, new: str,
                            again: str | None = None, csrf: str | None = None) -> tuple[int, str, str]:
    async with session.get(f"{server.url}/console/account") as r:
        assert r.status == 200
        token = csrf_of(await r.text())
    form = {"csrf_token": token if csrf is None else csrf, "current_password": current, "new_password": new,
            "new_password_again": new if again is None else again}
    async with session.post(f"{server.url}/console/account", data=form, allow_redirects=False) as r:
        return r.status, r.headers.get("Location", ""), await r.text()


async def can_log_in(server: LiveServer, password: str) -> bool:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        async with s.get(f"{server.url}/console/login") as r:
            token = csrf_of(await r.text())
        async with s.post(f"{server.url}/console/login", allow_redirects=False,
                          data={"username": "anna", "password": password, "csrf_token": token}) as r:
            return r.status == 303


async def test_a_console_password_change_ends_other_sessions_and_tokens_but_not_this_one(live_server):
    await live_server.add_operator("anna")
    token = await create_api_token(live_server.desk, "anna", "crm")
    async with await live_server.logged_in("anna") as mine, await live_server.logged_in("anna") as stolen:
        assert await console_status(stolen, live_server) == 200 and await api_status(live_server, f"Bearer {token}") == 200
        status, location, _ = await change_in_console(mine, live_server, OLD, NEW)
        assert (status, location) == (303, "/console/account?changed=1")
        async with mine.get(f"{live_server.url}{location}") as r:
            assert "Your password was changed" in await r.text()
        assert await console_status(mine, live_server) == 200
        assert await console_status(stolen, live_server) == 303
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await stolen.ws_connect(f"{live_server.url}/console/ws", origin=live_server.url)
        assert refused.value.status == 401
    assert await api_status(live_server, f"Bearer {token}") == 401
    assert not await can_log_in(live_server, OLD) and await can_log_in(live_server, NEW)
    fresh = await create_api_token(live_server.desk, "anna")
    assert await api_status(live_server, f"Bearer {fresh}") == 200


@pytest.mark.parametrize("current, new, again, expected", [
    (OLD, "short", None, "between 8 and 1024 characters"),
    (OLD, "x" * 1025, None, "between 8 and 1024 characters"),
    (OLD, NEW, NEW + "!", "The two new passwords differ"),
    ("not-the-password", NEW, None, "The current password is wrong"),
    ("", NEW, None, "The current password is wrong"),
])
async def test_a_refused_change_keeps_the_password_sessions_and_tokens(live_server, current, new, again, expected):
    await live_server.add_operator("anna")
    token = await create_api_token(live_server.desk, "anna")
    async with await live_server.logged_in("anna") as mine, await live_server.logged_in("anna") as other:
        status, _, page = await change_in_console(mine, live_server, current, new, again)
        assert status == 400 and expected in page
        assert await console_status(other, live_server) == 200
    assert await api_status(live_server, f"Bearer {token}") == 200
    assert await can_log_in(live_server, OLD)


async def test_a_change_without_the_sessions_csrf_token_is_refused(live_server):
    await live_server.add_operator("anna")
    async with await live_server.logged_in("anna") as mine:
        status, _, _ = await change_in_console(mine, live_server, OLD, NEW, csrf="forged")
        assert status == 403
    assert await can_log_in(live_server, OLD) and not await can_log_in(live_server, NEW)


async def test_guessing_the_current_password_is_throttled_like_logins(live_server):
    await live_server.add_operator("anna")
    async with await live_server.logged_in("anna") as mine:
        for attempt in range(5):
            assert (await change_in_console(mine, live_server, f"guess-{attempt}", NEW))[0] == 400
        status, _, page = await change_in_console(mine, live_server, OLD, NEW)
    assert status == 429 and "Too many failed attempts" in page
    # The same lock holds the login form for this name and address; the password itself is unchanged.
    assert not await can_log_in(live_server, OLD)
    assert await log_in(live_server.desk, "anna", OLD) is not None


async def test_the_account_page_needs_a_session(live_server):
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{live_server.url}/console/account", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith("/console/login")
        async with s.post(f"{live_server.url}/console/account", data={"new_password": NEW}, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith("/console/login")


async def test_a_change_by_an_admin_ends_every_session_of_the_operator(live_server):
    await live_server.add_operator("anna")
    token = await create_api_token(live_server.desk, "anna")
    async with await live_server.logged_in("anna") as s:
        revoked = await change_password(live_server.desk, "anna", NEW, by="cli:root")
        assert revoked == {"sessions_ended": 1, "tokens_revoked": 1}
        assert await console_status(s, live_server) == 303
    assert await api_status(live_server, f"Bearer {token}") == 401


async def test_disabling_an_operator_ends_sessions_and_revokes_tokens(live_server):
    await live_server.add_operator("anna")
    token = await create_api_token(live_server.desk, "anna")
    async with await live_server.logged_in("anna") as s:
        await set_operator_active(live_server.desk, "anna", False)
        assert await console_status(s, live_server) == 303
    assert await api_status(live_server, f"Bearer {token}") == 401
    # Enabling again does not bring the old token back.
    await set_operator_active(live_server.desk, "anna", True)
    assert await api_status(live_server, f"Bearer {token}") == 401


async def test_empty_malformed_and_over_long_tokens_are_refused(live_server):
    await live_server.add_operator("anna")
    token = await create_api_token(live_server.desk, "anna")
    bad = ["", "Bearer", "Bearer ", "Bearer hl_", f"Bearer {token[:-1]}", f"Bearer {token}x", f"Bearer {token} {token}",
           f"Basic {token}", f"bearer{token}", "Bearer hl_" + "A" * 5000, "Bearer " + "A" * 43, "Bearer hl_%00%0a",
           f"Bearer {token.upper()}", "Bearer \u0445l_" + token[3:]]
    for authorization in bad:
        assert await api_status(live_server, authorization) == 401, authorization
    assert await api_status(live_server, f"Bearer {token}") == 200
    for cookie in ["", "x", "A" * 43, "A" * 129, "A" * 5000, token, "%00", "\u00e9" * 10]:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            s.cookie_jar.update_cookies({"hl_session": cookie})
            assert await console_status(s, live_server) == 303, cookie


def test_cli_passwd_reads_the_new_password_and_revokes_tokens(config):  # noqa: F811
    assert helpline("db", "upgrade", "--config", str(config)).returncode == 0
    added = helpline("operators", "add", "anna", "--role", "admin", "--password-stdin", "--config", str(config), stdin=OLD + "\n")
    assert added.returncode == 0, added.stderr
    token = helpline("tokens", "create", "anna", "--config", str(config)).stdout.strip()
    short = helpline("operators", "passwd", "anna", "--password-stdin", "--config", str(config), stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    missing = helpline("operators", "passwd", "nobody", "--password-stdin", "--config", str(config), stdin=NEW + "\n")
    assert missing.returncode == 2 and "there is no operator 'nobody'" in missing.stderr
    changed = helpline("operators", "passwd", "anna", "--password-stdin", "--config", str(config), stdin=NEW + "\n")
    assert changed.returncode == 0, changed.stderr
    assert "1 API token(s) revoked" in changed.stdout
    import asyncio
    assert asyncio.run(viewer_of_token(config, token)) is None
