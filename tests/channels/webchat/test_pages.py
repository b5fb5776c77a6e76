"""The pages and files: no visitor data in any page, strict headers, frameable only where meant."""
from __future__ import annotations

import re

import pytest

from channels.webchat.pages import embed_csp, frame_ancestors
from tests.channels.webchat.conftest import start_desk

HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


async def get(chat, path: str, **kw):
    async with chat.session.get(f"{chat.url}{path}", **kw) as response:
        return response.status, response.headers, await response.read()


async def test_pages_never_contain_what_visitors_wrote(chat):
    visitor = await chat.visitor()
    await visitor.say("x", HOSTILE, name=HOSTILE[:100])
    for path in ("/", "/chat", "/chat?embed=1"):
        status, headers, body = await get(chat, path)
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert b"pwned" not in body and b"onerror" not in body
        # Only our own external scripts; nothing inline that could carry data.
        scripts = re.findall(rb"<script([^>]*)>(.*?)</script>", body, re.S)
        assert scripts and all(b"src=" in attrs and not inner.strip() for attrs, inner in scripts)


async def test_the_demo_page_embeds_the_widget_with_one_tag(chat):
    status, headers, body = await get(chat, "/")
    assert b'<script src="/widget.js" async></script>' in body
    assert b"Northwind Goods" in body and b'href="/console"' in body
    assert f"{chat.url}/widget.js".encode() in body  # the snippet to copy names this desk
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"


async def test_only_the_embedded_chat_may_be_framed(chat):
    _, full, body = await get(chat, "/chat")
    assert "frame-ancestors 'none'" in full["Content-Security-Policy"] and full["X-Frame-Options"] == "DENY"
    for hook in (b'id="hl-input"', b'id="hl-send"', b'id="hl-messages"'):
        assert hook in body
    _, embedded, body = await get(chat, "/chat?embed=1")
    assert "frame-ancestors *" in embedded["Content-Security-Policy"] and "X-Frame-Options" not in embedded
    assert "script-src 'self'" in embedded["Content-Security-Policy"]
    assert b'data-embed="1"' in body and b'id="hl-minimize"' in body


async def test_allowed_origins_limit_who_may_frame_the_chat(tmp_path, database_url):
    import aiohttp

    server, runner = await start_desk(tmp_path, database_url,
                                      allowed_origins=["https://shop.example.com", "https://*.example.org", "bad; origin"])
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{server.url}/chat?embed=1") as response:
            csp = response.headers["Content-Security-Policy"]
    finally:
        await runner.cleanup()
    assert "frame-ancestors 'self' https://shop.example.com https://*.example.org;" in csp
    assert "bad" not in csp


@pytest.mark.parametrize("origins,expected", [
    ((), "*"),
    (("https://a.example",), "'self' https://a.example"),
    (("https://a.example/",), "'self' https://a.example"),
    (("http://localhost:3000",), "'self' http://localhost:3000"),
    (("javascript:alert(1)", "https://x.example 'unsafe-inline'"), "'self'"),
])
def test_frame_ancestors(origins, expected):
    assert frame_ancestors(origins) == expected
    assert f"frame-ancestors {expected};" in embed_csp(expected)


async def test_static_files_have_the_right_types_and_headers(chat):
    status, headers, body = await get(chat, "/widget.js")
    assert status == 200 and headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert b"hl-bubble" in body and b"innerHTML" not in body
    status, headers, body = await get(chat, "/chat/static/chat.js")
    assert status == 200 and headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache" and b"innerHTML" not in body
    status, headers, _ = await get(chat, "/chat/static/chat.css")
    assert status == 200 and headers["Content-Type"] == "text/css; charset=utf-8"
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
    # Versioned links may be cached for good; a repeat request with the ETag gets 304.
    _, page_headers, page = await get(chat, "/chat")
    version = re.search(rb"chat\.js\?v=([0-9a-f]+)", page).group(1).decode()
    status, headers, _ = await get(chat, f"/chat/static/chat.js?v={version}")
    assert "immutable" in headers["Cache-Control"]
    status, _, body = await get(chat, "/chat/static/chat.js", headers={"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""


@pytest.mark.parametrize("path", ["/chat/static/../adapter.py", "/chat/static/%2e%2e%2fadapter.py", "/chat/static/nope.js",
                                  "/chat/static/adapter.py", "/chat/static/.hidden.js"])
async def test_nothing_else_is_served_as_static(chat, path):
    status, _, body = await get(chat, path)
    assert status == 404 and b"import" not in body
