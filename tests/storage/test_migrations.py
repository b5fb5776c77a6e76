"""Alembic migrations: head applies on a fresh database, again harmlessly, and equals the ORM models.

SQLite always; PostgreSQL when HELPLINE_TEST_DATABASE_URL is set (the CI's second run).
"""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, Table, inspect, text
from sqlalchemy.exc import IntegrityError

from bot.storage.engine import create_engine
from bot.storage.migrate import alembic_config, is_current, upgrade
from bot.storage.models import Base
from tests.conftest import reset_postgres


def schema_differences(connection, metadata: MetaData = Base.metadata) -> list:
    """What `alembic revision --autogenerate` would write to turn the database into the models."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, metadata)


def revision_of(connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def check_migrations(url: str) -> None:
    engine = create_engine(url)
    try:
        assert not await is_current(engine)  # a fresh database is behind
        await upgrade(engine)
        assert await is_current(engine)
        async with engine.connect() as conn:
            first_tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            assert await conn.run_sync(revision_of) == set(ScriptDirectory.from_config(alembic_config()).get_heads())
        await upgrade(engine)  # again: nothing to do, nothing breaks
        async with engine.connect() as conn:
            assert set(await conn.run_sync(lambda c: inspect(c).get_table_names())) == first_tables
            assert first_tables == set(Base.metadata.tables) | {"alembic_version"}
            assert await conn.run_sync(schema_differences) == []
            counter = (await conn.execute(text("SELECT value FROM counters WHERE name = 'ticket_number'"))).scalar_one()
            assert counter == 1000  # the migration seeds the ticket numbers
    finally:
        await engine.dispose()


async def check_comparison_sees_a_difference(url: str) -> None:
    """Guard against a vacuous pass: a model table the database lacks is reported."""
    extra = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extra)
    Table("not_migrated", extra, Column("id", Integer, primary_key=True))
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(lambda c: schema_differences(c, extra))
    finally:
        await engine.dispose()
    assert [d[0] for d in differences] == ["add_table"] and differences[0][1].name == "not_migrated"


async def test_sqlite_migrates_to_head_idempotently_and_matches_the_models(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    await check_migrations(url)
    await check_comparison_sees_a_difference(url)


async def test_sqlite_runs_in_wal_mode_with_foreign_keys_on(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pragmas.db'}")
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() > 0
            with pytest.raises(IntegrityError):  # a message of a ticket that does not exist
                await conn.execute(text(
                    "INSERT INTO messages (ticket_id, channel, direction, author_kind, text, delivery_status, "
                    "delivery_error, created_at) VALUES (424242, 'webchat', 'in', 'client', 'x', 'received', '', "
                    "'2026-01-01 00:00:00')"))
    finally:
        await engine.dispose()


@pytest.mark.storage
async def test_postgresql_migrates_to_head_idempotently_and_matches_the_models(postgres_url):
    if not postgres_url:
        pytest.skip("PostgreSQL not configured: set HELPLINE_TEST_DATABASE_URL="
                    "postgresql+asyncpg://postgres@127.0.0.1:5432/test to run the migrations on it")
    await reset_postgres(postgres_url)
    await check_migrations(postgres_url)
    await check_comparison_sees_a_difference(postgres_url)
