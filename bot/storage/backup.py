"""Online backups of the SQLite database with SQLite's own backup API (consistent while the desk writes)."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable

from sqlalchemy.engine import make_url

from bot.errors import HelplineError
from bot.storage.engine import SQLITE_BUSY_MS, is_sqlite

PAGES_PER_STEP = 256


def pg_dump_hint(url: str) -> str:
    """The pg_dump command that backs up the PostgreSQL database behind `url`."""
    parsed = make_url(url)
    parts = ["pg_dump", "--format=custom"]
    if parsed.host:
        parts.append(f"--host={parsed.host}")
    if parsed.port:
        parts.append(f"--port={parsed.port}")
    if parsed.username:
        parts.append(f"--username={parsed.username}")
    parts += [f"--file=FILE.dump", parsed.database or "DATABASE"]
    return " ".join(parts)


def backup_sqlite(url: str, target: Path, progress: Callable[[int, int], None] | None = None) -> int:
    """Copy the live SQLite database at `url` into `target` page by page; returns the page count.

    The backup API restarts a step when another connection writes, so the copy is a consistent
    snapshot even while `helpline run` is serving (WAL readers never block writers).
    """
    if not is_sqlite(url):
        raise HelplineError("`helpline db backup` copies SQLite databases; for PostgreSQL use "
                            f"`{pg_dump_hint(url)}` (restore with pg_restore)")
    source_path = make_url(url).database
    if not source_path or source_path == ":memory:" or not Path(source_path).exists():
        raise HelplineError(f"no SQLite database at {source_path!r}: check desk.database_url")
    target = Path(target)
    if target.exists():
        raise HelplineError(f"{target} already exists: choose a new file name (a backup never overwrites)")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    source = sqlite3.connect(source_path, timeout=SQLITE_BUSY_MS / 1000)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy, pages=PAGES_PER_STEP,
                          progress=(lambda _status, remaining, total: progress(total - remaining, total)) if progress else None)
            pages = copy.execute("PRAGMA page_count").fetchone()[0]
            if copy.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise HelplineError(f"the copy in {partial} failed its integrity check: try again")
            copy.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file, no -wal beside it
        finally:
            copy.close()
    finally:
        source.close()
    partial.rename(target)
    return pages
