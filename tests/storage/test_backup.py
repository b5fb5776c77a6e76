"""`helpline db backup`: a consistent copy of the live SQLite database that restores every message."""
from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bot.errors import HelplineError
from bot.storage.backup import backup_sqlite
from bot.storage.engine import is_sqlite
from tests.console.conftest import console  # noqa: F401  (the live desk fixture)
from tests.test_cli import assert_clean_failure, helpline


async def test_backup_while_clients_write_restores_every_message(console, tmp_path):
    """Clients keep writing during the copy; the restored file holds every message stored before it began."""
    url = console.desk.settings.database_url
    if not is_sqlite(url):
        with pytest.raises(HelplineError, match="pg_dump"):
            backup_sqlite(url, tmp_path / "copy.db")
        return
    before = [f"before backup {i}" for i in range(40)]
    for i, text in enumerate(before):
        await console.client_writes(text, user=f"visitor-{i % 5}")

    async def keep_writing() -> None:
        for i in range(20):
            await console.client_writes(f"during {i}", user="late")

    writing = asyncio.create_task(keep_writing())
    target = tmp_path / "backups" / "copy.db"
    pages = await asyncio.to_thread(backup_sqlite, url, target)
    await writing
    assert pages > 0

    restored = sqlite3.connect(target)  # the restore: the copy opened on its own, as a desk would
    try:
        assert restored.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        texts = {row[0] for row in restored.execute("SELECT text FROM messages")}
        tickets = restored.execute("SELECT count(*) FROM tickets").fetchone()[0]
    finally:
        restored.close()
    assert set(before) <= texts
    assert tickets >= 5
    with pytest.raises(HelplineError, match="already exists"):
        backup_sqlite(url, target)


def test_backup_on_postgresql_names_the_pg_dump_command():
    result = helpline("db", "backup", "x.db", "--database-url", "postgresql+asyncpg://desk@db.example:5433/helpline")
    assert_clean_failure(result, "pg_dump", "--host=db.example", "--port=5433", "helpline")
