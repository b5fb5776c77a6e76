"""The benchmarks' desk databases: a copy of the run's template is a migrated desk the bench operator logs into."""
from __future__ import annotations

import asyncio
import os
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


@pytest.mark.storage
async def test_templates_a_killed_run_left_are_dropped_and_a_live_runs_are_kept(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL template databases")
    gone = await asyncio.create_subprocess_exec("true")
    await gone.wait()  # a process id that no longer runs: a bench run killed before it dropped its templates
    prefix = dbtemplates.TEMPLATE_PREFIX + "schema_"
    left = f"{prefix}{dbtemplates.HOST}_{gone.pid}"
    running = f"{prefix}{dbtemplates.HOST}_{os.getpid()}"  # a run still going on this machine
    elsewhere = f"{prefix}00000000_{gone.pid}"  # another machine's run: its processes are not ours to judge
    server = database_url.rsplit("/", 1)[0]
    for name in (left, running, elsewhere):
        await dbtemplates.pg_recreate(f"{server}/{name}")
    try:
        dropped = await dbtemplates.drop_left_templates(database_url)
        assert left in dropped and running not in dropped and elsewhere not in dropped
        assert left not in await dbtemplates.drop_left_templates(database_url)  # gone: nothing to drop again
    finally:
        for name in (left, running, elsewhere):
            await dbtemplates.pg_recreate(f"{server}/{name}", drop_only=True)
