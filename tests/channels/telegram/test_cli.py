"""`helpline telegram set-webhook | delete-webhook | status` against the fake Bot API."""
from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import SECRET, free_port
from tests.fakes.telegram_api import TOKEN, FakeBotAPI

HOOK_SECRET = "hook-secret-0123456789abcdef"


@pytest.fixture
def fake_server():
    """The fake Bot API on its own loop in a thread: the CLI runs its own event loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = FakeBotAPI()
    asyncio.run_coroutine_threadsafe(fake.start(free_port()), loop).result(10)
    yield fake
    asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()
    fake.check()


def config(tmp_path, fake, mode="webhook", token=TOKEN, extra="") -> str:
    path = tmp_path / "helpline.toml"
    path.write_text(f"""
[desk]
data_dir = "data"
[web]
secret_key = "{SECRET}"
[channels.telegram]
token = "{'env:TEST_TG_TOKEN' if token == TOKEN else token}"
api_server = "{fake.url}"
mode = "{mode}"
webhook_secret = "{HOOK_SECRET}"
{extra}
""", encoding="utf-8")
    return str(path)


@pytest.fixture(autouse=True)
def token_env(monkeypatch):
    monkeypatch.setenv("TEST_TG_TOKEN", TOKEN)


def test_set_webhook_registers_url_secret_and_update_kinds(tmp_path, fake_server, capsys):
    url = "https://desk.example.com/telegram/default/webhook"
    assert main(["telegram", "set-webhook", url, "--config", config(tmp_path, fake_server)]) == 0
    assert fake_server.webhook == {"url": url, "secret_token": HOOK_SECRET,
                                   "allowed_updates": ["message", "edited_message", "callback_query", "my_chat_member"]}
    out = capsys.readouterr().out
    assert "Telegram now posts updates to " + url in out and "pending updates:  0" in out
    assert TOKEN not in out and HOOK_SECRET not in out


def test_set_webhook_warns_about_a_path_the_desk_does_not_serve(tmp_path, fake_server, capsys):
    assert main(["telegram", "set-webhook", "https://desk.example.com/hook", "--config", config(tmp_path, fake_server)]) == 0
    assert "the desk takes this bot's updates at /telegram/default/webhook" in capsys.readouterr().out


def test_status_shows_webhook_pending_updates_and_last_error(tmp_path, fake_server, capsys):
    fake_server.webhook = {"url": "https://desk.example.com/telegram/default/webhook", "secret_token": "x", "allowed_updates": None}
    fake_server.webhook_error = "Wrong response from the webhook: 502 Bad Gateway"
    fake_server.push({"message": {"message_id": 1}}, {"message": {"message_id": 2}})
    assert main(["telegram", "status", "--config", config(tmp_path, fake_server)]) == 0
    out = capsys.readouterr().out
    assert "telegram: @shop_help_bot (id 123456789), webhook mode" in out
    assert "pending updates:  2" in out and "last error:       Wrong response from the webhook: 502 Bad Gateway (" in out


def test_status_of_a_polled_bot_with_a_webhook_left_over_says_what_to_do(tmp_path, fake_server, capsys):
    fake_server.webhook = {"url": "https://old.example.com/hook", "secret_token": "x", "allowed_updates": None}
    assert main(["telegram", "status", "--config", config(tmp_path, fake_server, mode="polling")]) == 0
    assert "a webhook is set, so polling gets nothing: run `helpline telegram delete-webhook`" in capsys.readouterr().out
    assert main(["telegram", "delete-webhook", "--config", config(tmp_path, fake_server, mode="polling")]) == 0
    assert fake_server.webhook["url"] == "" and "removed" in capsys.readouterr().out


def test_set_webhook_refuses_a_polled_bot(tmp_path, fake_server, capsys):
    assert main(["telegram", "set-webhook", "https://x.example.com/telegram/default/webhook",
                 "--config", config(tmp_path, fake_server, mode="polling")]) == 2
    assert "is in polling mode" in capsys.readouterr().err
    assert fake_server.calls == []


def test_a_wrong_token_is_reported_clearly(tmp_path, fake_server, capsys):
    path = config(tmp_path, fake_server, token="999999:WRONGtokenWRONGtokenWRONG")
    assert main(["telegram", "status", "--config", path]) == 2
    err = capsys.readouterr().err
    assert "Telegram refused the token of the bot 'default'" in err and "channels.telegram.token" in err
    assert fake_server.refused_tokens == 1 and TOKEN.split(":")[1] not in err


def test_several_bots_need_a_name(tmp_path, fake_server, capsys):
    path = tmp_path / "two.toml"
    path.write_text(f"""
[web]
secret_key = "{SECRET}"
[channels.telegram.shop]
token = "{TOKEN}"
api_server = "{fake_server.url}"
[channels.telegram.brand]
token = "555555:AAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
api_server = "{fake_server.url}"
""", encoding="utf-8")
    assert main(["telegram", "delete-webhook", "--config", str(path)]) == 2
    assert "several bots are configured (brand, shop): choose one with --bot NAME" in capsys.readouterr().err
    assert main(["telegram", "status", "--bot", "telegram-shop", "--config", str(path)]) == 0
    assert "telegram-shop: @shop_help_bot" in capsys.readouterr().out
    assert main(["telegram", "status", "--bot", "nope", "--config", str(path)]) == 2


def test_status_shows_what_the_desk_ignored(tmp_path, fake_server, capsys):
    from bot.actions.channel_state import save_channel_state
    from bot.config import load_settings
    from tests.channels.telegram.conftest import open_desk

    path = config(tmp_path, fake_server, mode="polling")

    async def record():
        desk, engine = await open_desk(load_settings(Path(path)))
        await save_channel_state(desk, "telegram", "ignored", {"counts": {"supergroup chat": 3, "poll updates are not served": 1}})
        await engine.dispose()

    asyncio.run(record())
    assert main(["telegram", "status", "--config", path]) == 0
    assert "ignored updates:  poll updates are not served: 1, supergroup chat: 3" in capsys.readouterr().out


def test_status_creates_no_database(tmp_path, fake_server):
    assert main(["telegram", "status", "--config", config(tmp_path, fake_server)]) == 0
    assert not (tmp_path / "data").exists()
