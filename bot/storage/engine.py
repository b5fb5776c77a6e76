"""Create the async engine and session factory; SQLite gets WAL and a busy timeout."""
from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

SQLITE_BUSY_MS = 10_000
PING_AFTER_IDLE_SECONDS = 30.0


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str) -> AsyncEngine:
    """An engine for SQLite (aiosqlite) or PostgreSQL (asyncpg); the same code runs on both."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "asyncpg":
        url = parsed.set(drivername="postgresql+asyncpg")
    engine = create_async_engine(url, pool_size=10, max_overflow=20)
    event.listen(engine.sync_engine.pool, "connect", _checked_in)  # fresh: no ping needed yet
    event.listen(engine.sync_engine.pool, "checkout", _checked_out)
    event.listen(engine.sync_engine.pool, "checkin", _checked_in)
    return engine


def _checked_in(_dbapi_connection, record) -> None:
    if record is not None:
        record.info["idle_since"] = time.monotonic()


def _checked_out(dbapi_connection, record, _proxy) -> None:
    """Hand out only live PostgreSQL connections, without a round trip on every checkout.

    SQLAlchemy's pool_pre_ping sends BEGIN, a query and ROLLBACK before each unit of work: three
    round trips, about half of a short read's time. A connection the server ended (a restart, an
    administrator, an idle timeout) has seen its socket close, which asyncpg notes at once; one that
    sat idle for a while is pinged, as something between may have dropped it silently. Raising
    DisconnectionError makes the pool drop the connection and hand out another.
    """
    driver = dbapi_connection.driver_connection
    if driver.is_closed():
        raise exc.DisconnectionError("the server closed this connection")
    if time.monotonic() - record.info.get("idle_since", 0.0) > PING_AFTER_IDLE_SECONDS:
        try:
            dbapi_connection.ping()
        except Exception as error:
            raise exc.DisconnectionError(f"the connection failed a ping: {error}") from error


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
