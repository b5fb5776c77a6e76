"""The benchmarks' desk databases: a copy of the run's template is a migrated desk the bench operator logs into."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench import dbtemplates
from bench.figures import private_pg_url
from bot.actions.context import Desk
from bot.actions.operators import log_in
from bot.config import parse_settings
from bot.events import EventBus
from bot.storage.engine import create_engine, session_factory
from bot.storage.files import AttachmentStore
from bot.storage.migrate import is_current

OPERATOR = ("benchop", "bench-template-test-password")


async def _logs_in(url: str, tmp: Path) -> bool:
    engine = create_engine(url)
    try:
        assert await is_current(engine)
        settings = parse_settings({"desk": {"data_dir": str(tmp), "database_url": url},
                                   "web": {"secret_key": "bench-secret-key-0123456789-abcdefghijkl"}}, "test")
        desk = Desk(session_factory(engine), EventBus(), settings, AttachmentStore(tmp / "att", 10**6, ()))
        return await log_in(desk, *OPERATOR) is not None
    finally:
        await engine.dispose()


async def test_each_sqlite_desk_gets_its_own_copy_of_the_migrated_database_with_the_operator(tmp_path):
    for folder in ("a", "b"):
        await asyncio.to_thread(dbtemplates.copy_sqlite, OPERATOR, tmp_path / folder / "data")
    first, second = tmp_path / "a" / "data" / "helpline.db", tmp_path / "b" / "data" / "helpline.db"
    assert await _logs_in(f"sqlite+aiosqlite:///{first}", tmp_path)
    assert await _logs_in(f"sqlite+aiosqlite:///{second}", tmp_path)
    assert not first.samefile(second)


@pytest.mark.storage
async def test_a_postgresql_desk_is_a_copy_of_the_runs_template(database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's CREATE DATABASE ... TEMPLATE")
    url = private_pg_url(database_url, "bench_template_test")
    try:
        await dbtemplates.copy_pg(url, OPERATOR)
        assert await _logs_in(url, tmp_path)
    finally:
        await dbtemplates.pg_recreate(url, drop_only=True)
