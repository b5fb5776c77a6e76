"""Self-service test helpers: a desk with the bot on, the demo knowledge base and forms, always open."""
from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.channels.webchat.conftest import Chat
from tests.conftest import LiveServer, free_port, make_settings

DEMO_KB = Path(__file__).resolve().parents[2] / "bot" / "demo_kb"
QUEUES = ["general", "billing", "delivery", "returns", "tech", "sales", "complaints"]


def bot_settings(tmp_path, database_url, *, sections: dict | None = None, **bot):
    """The test settings with the bot on: demo knowledge base, order number for delivery and returns,
    an email for web chat visitors, and business hours that never close (hours are tested purely)."""
    values = {"enabled": True, "knowledge_base": str(DEMO_KB), "guess_queue": False,
              "forms": [{"queues": ["delivery", "returns"], "fields": ["order_number"]},
                        {"channels": ["webchat"], "fields": ["email"]}]}
    values.update(bot)
    return make_settings(tmp_path, database_url, bot=values, queues=[{"name": q} for q in QUEUES],
                         router={"business_hours": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                                    "start": "00:00", "end": "00:00"}}, **(sections or {}))


async def start_bot_desk(settings) -> tuple[LiveServer, web.AppRunner]:
    from bot.app import create_app
    from bot.web import DESK

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(settings, public_url=url, auto_migrate=True)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return LiveServer(app, url, app[DESK]), runner


@pytest.fixture
async def bot_chat(tmp_path, database_url):
    """The whole desk with the bot on, and a way to open web chat visitors against it."""
    server, runner = await start_bot_desk(bot_settings(tmp_path, database_url))
    try:
        async with aiohttp.ClientSession() as session:
            yield Chat(server, session)
    finally:
        await runner.cleanup()
