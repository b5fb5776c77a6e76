"""`python -m bench` itself: it measures only in databases of its own, and claims nothing without a target."""
from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text

from bench.__main__ import _fresh_desk, private_desk, results_record
from bench.figures import figure, print_figures
from bot.storage.engine import create_engine

KEYS = {"name", "value", "unit", "anchor", "ratio", "target", "met"}


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
                                      if url.startswith("postgresql") else text("SELECT name FROM sqlite_master"))
            return {r[0] for r in rows}
    finally:
        await engine.dispose()


@pytest.mark.storage
async def test_the_named_database_keeps_its_tables_and_the_private_one_is_dropped(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a private database on the server is PostgreSQL's case; SQLite benches use temporary files")
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE real_desk_rows (id INTEGER PRIMARY KEY)"))
        await conn.execute(text("INSERT INTO real_desk_rows VALUES (1)"))
    await engine.dispose()
    async with private_desk(database_url, "bench_selftest") as desk:
        async with desk.sessions() as s:
            assert (await s.execute(text("SELECT current_database()"))).scalar_one() == \
                database_url.rsplit("/", 1)[1] + "_bench_selftest"
    assert "real_desk_rows" in await _tables(database_url)
    server = database_url.replace("postgresql+asyncpg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
    conn = await asyncpg.connect(server)
    try:
        left = await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname LIKE '%bench_selftest'")
    finally:
        await conn.close()
    assert left == 0


@pytest.mark.storage
async def test_a_database_that_holds_tables_is_refused_not_emptied(database_url, tmp_path):
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE real_desk_rows (id INTEGER PRIMARY KEY)"))
    await engine.dispose()
    with pytest.raises(RuntimeError, match="already holds tables"):
        await _fresh_desk(database_url, tmp_path)
    assert await _tables(database_url) >= {"real_desk_rows"}


def test_a_figure_without_a_target_is_stored_and_shown_without_a_verdict(capsys):
    shown = figure("push p50 (SQLite)", 3.25, "ms", "echo p50 ms", 1.5, None, None, 2)
    judged = figure("messages/s (SQLite)", 50, "messages/s", "echo round trips/s", 100, "ratio >= 0.25", True)
    noted = {**judged, "note": "stored 10 messages"}
    records = [results_record(f) for f in (shown, judged, noted)]
    assert all(set(r) == KEYS for r in records)
    assert records[0]["target"] is None and records[0]["met"] is None and records[0]["ratio"] == pytest.approx(2.167)
    assert records[1]["met"] is True and records[1]["anchor"] == {"name": "echo round trips/s", "value": 100}
    print_figures([shown, judged])
    first, second = capsys.readouterr().out.splitlines()
    assert first.rstrip().endswith("-") and "met" not in first
    assert second.rstrip().endswith("met (ratio >= 0.25)") and "NOT met" not in second


def test_stopping_a_bench_process_ends_what_it_started_too():
    """A measured process is killed with its whole session (gunicorn's workers, say), not left running."""
    import os
    import select
    import subprocess

    from bench.figures import stop_process

    with subprocess.Popen(["sh", "-c", "sleep 600 & echo $!; wait"], stdout=subprocess.PIPE, text=True,
                          start_new_session=True) as proc:
        child = os.pidfd_open(int(proc.stdout.readline()))  # readable once that process has ended
        try:
            stop_process(proc)
            assert proc.returncode is not None
            ended, _, _ = select.select([child], [], [], 30)
            assert ended, "the shell's child kept running"
        finally:
            os.close(child)
