"""Shared fixtures: settings on a temporary data dir, a migrated desk, a live server on loopback.

Storage-touching tests run on SQLite by default; set HELPLINE_TEST_DATABASE_URL (e.g.
postgresql+asyncpg://postgres@127.0.0.1:5432/test) to run them against PostgreSQL.
"""
from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web

from bot.actions.context import Desk
from bot.actions.operators import create_operator, log_in, viewer_of
from bot.actions.setup import sync_queues
from bot.config import Settings, parse_settings
from bot.events import EventBus
from bot.storage.engine import create_engine, is_sqlite, session_factory
from bot.storage.files import AttachmentStore
from bot.storage.migrate import upgrade

PG_URL = os.environ.get("HELPLINE_TEST_DATABASE_URL", "")
SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
QUEUES = ["general", "billing", "delivery"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.storage)


def _private_database(url: str) -> str:
    """Create a database of this test process's own beside the given one, so parallel runs never collide."""
    import asyncio

    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_hl{os.getpid()}"

    asyncio.run(run_admin(url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'))
    return base.set(database=name).render_as_string(hide_password=False)


async def run_admin(url: str, *statements: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False), timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url():
    """A private PostgreSQL database for this run, created next to HELPLINE_TEST_DATABASE_URL."""
    if not PG_URL:
        yield ""
        return
    import asyncio

    url = _private_database(PG_URL)
    yield url
    name = url.rsplit("/", 1)[-1]
    asyncio.run(run_admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def reset_postgres(url: str) -> None:
    """Give a PostgreSQL test an empty public schema.

    The database is this test process's own, so any other connection to it was left open by an earlier test (a
    desk not closed, a task cut off mid-transaction). Such a connection can hold locks that would make the schema
    drop wait for ever; it is ended, and named in a warning so the leak gets found."""
    import warnings

    from sqlalchemy import text

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            leftovers = (await conn.execute(text(
                "SELECT pid, state, left(query, 160) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"))).all()
            busy = [row for row in leftovers if row.state != "idle"]
            if busy:
                warnings.warn("connections left open by an earlier test, ended: "
                              + "; ".join(f"{row.state}: {row[2]!r}" for row in busy), stacklevel=1)
            for row in leftovers:
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": row.pid})
            await conn.execute(text("SET LOCAL lock_timeout = '60s'"))
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@pytest.fixture
async def database_url(tmp_path, postgres_url) -> str:
    """A fresh database: a SQLite file, or this run's private PostgreSQL database emptied."""
    if postgres_url:
        await reset_postgres(postgres_url)
        return postgres_url
    return f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"


def make_settings(tmp_path, database_url: str, **overrides) -> Settings:
    raw = {
        "desk": {"data_dir": str(tmp_path / "data"), "database_url": database_url, "default_queue": "general"},
        "web": {"secret_key": SECRET, "port": 0},
        "queues": [{"name": q} for q in QUEUES],
        "canned_responses": [{"title": "Hello", "language": "en", "text": "Hello! How can I help?"}],
        "outbox": {"first_retry_seconds": 0.05, "max_retry_seconds": 0.2, "max_attempts": 3},
        # Surveys are off unless a test turns them on (tests/feedback), so other tests see no survey messages.
        "feedback": {"survey": {"enabled": False}},
        # No routing model unless a test turns it on (tests/actions/test_routing_desk.py): tickets stay in triage.
        "router": {"classify": False},
    }
    for section, values in overrides.items():
        if isinstance(values, dict):
            raw[section] = {**raw.get(section, {}), **values}
        else:
            raw[section] = values
    return parse_settings(raw, "test config")


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return make_settings(tmp_path, database_url)


@contextlib.asynccontextmanager
async def migrated_desk(settings: Settings):
    """A migrated desk with the configured queues, without a web server; drained and closed on exit."""
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    desk = Desk(session_factory(engine), EventBus(), settings,
                AttachmentStore(settings.attachments_dir, settings.attachments.max_bytes, settings.attachments.allowed_types))
    await sync_queues(desk)
    try:
        yield desk
        await desk.bus.drain()
    finally:
        await engine.dispose()


@pytest.fixture
async def desk(settings):
    """A migrated desk with the test queues, without a web server."""
    async with migrated_desk(settings) as desk:
        yield desk


@dataclass
class LiveServer:
    """A running desk on loopback and helpers to act as its users."""

    app: web.Application
    url: str
    desk: Desk

    async def add_operator(self, username: str, role: str = "operator", queues=("general",), password: str = "password-123"):
        await create_operator(self.desk, username, username.title(), password, role, list(queues), ["en"])
        return username, password

    async def logged_in(self, username: str, password: str = "password-123") -> aiohttp.ClientSession:
        """A client session logged in to the console (cookie jar that accepts the loopback host)."""
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with session.get(f"{self.url}/console/login") as r:
            page = await r.text()
        import re
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        async with session.post(f"{self.url}/console/login", data={"username": username, "password": password, "csrf_token": csrf},
                                allow_redirects=False) as r:
            assert r.status == 303, await r.text()
        return session


@pytest.fixture
async def live_server(tmp_path, database_url):
    """The whole desk (web chat, console, API, outbox worker) on a free loopback port."""
    from bot.app import create_app
    from bot.web import DESK

    settings = make_settings(tmp_path, database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(settings, public_url=url, auto_migrate=True)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield LiveServer(app, url, app[DESK])
    await runner.cleanup()
