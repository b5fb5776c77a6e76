"""Apply Alembic migrations to the configured database (SQLite or PostgreSQL)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision` in one transaction."""
    await _migrate(engine, command.upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the schema back to `revision` in one transaction (migration tests; operators use the CLI's backups)."""
    await _migrate(engine, command.downgrade, revision)


async def _migrate(engine: AsyncEngine, step, revision: str) -> None:
    config = alembic_config()

    def run(connection) -> None:
        config.attributes["connection"] = connection
        step(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def is_current(engine: AsyncEngine) -> bool:
    """True when every migration is applied."""
    script = ScriptDirectory.from_config(alembic_config())

    def current(connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    async with engine.connect() as conn:
        heads = await conn.run_sync(current)
    return heads == set(script.get_heads())
