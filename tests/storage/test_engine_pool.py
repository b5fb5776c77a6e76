"""PostgreSQL connections the server ended are replaced before anyone uses them."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from bot.storage.engine import create_engine
from tests.conftest import run_admin

pytestmark = pytest.mark.storage


async def test_a_pooled_connection_the_server_ended_is_replaced_without_an_error(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's server-side connections; set HELPLINE_TEST_DATABASE_URL")
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            first = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            driver = (await conn.get_raw_connection()).driver_connection
        # An administrator (or a restart) ends the idle pooled connection.
        await run_admin(database_url, f"SELECT pg_terminate_backend({first})")

        async def closed():
            while not driver.is_closed():  # asyncpg notes the closed socket on its next read
                await asyncio.sleep(0.01)
        await asyncio.wait_for(closed(), 10)
        async with engine.connect() as conn:  # the next unit of work gets a live connection, no error
            second = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert second != first
    finally:
        await engine.dispose()
