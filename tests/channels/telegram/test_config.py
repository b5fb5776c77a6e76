"""`[channels.telegram]`: one bot or several, checked at start-up with the key's path; every key documented."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.telegram_config import TelegramBotSettings, channel_name, webhook_path
from tests.conftest import make_settings

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"
TOKEN = "123456789:AAHexampleTOKENexampleTOKENexample"
OTHER = "987654321:AAHanotherTOKENanotherTOKENanothe"


def settings(tmp_path, telegram: dict):
    return make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/x.db", channels={"telegram": telegram})


def test_one_bot_in_the_section_is_the_default_bot(tmp_path):
    bots = settings(tmp_path, {"token": TOKEN}).channels.telegram
    assert list(bots) == ["default"] and channel_name("default") == "telegram"
    bot = bots["default"]
    assert (bot.mode, bot.api_server, bot.polling_timeout) == ("polling", "https://api.telegram.org", 25)
    assert webhook_path("default", bot) == "/telegram/default/webhook"
    assert TOKEN not in repr(bot) and TOKEN not in str(bot.model_dump())


def test_several_named_bots_are_several_channels(tmp_path):
    bots = settings(tmp_path, {"shop": {"token": TOKEN}, "brand": {"token": OTHER, "mode": "webhook",
                                                                    "webhook_secret": "s" * 20, "webhook_path": "/tg/brand"}}).channels.telegram
    assert sorted(bots) == ["brand", "shop"] and channel_name("shop") == "telegram-shop"
    assert webhook_path("brand", bots["brand"]) == "/tg/brand"


@pytest.mark.parametrize("telegram, complaint", [
    ({"token": "not-a-token"}, "channels.telegram.default.token: does not look like a bot token"),
    ({"token": "12345:short"}, "does not look like a bot token"),
    ({"token": TOKEN, "mode": "webhook"}, "webhook_secret: required in webhook mode"),
    ({"token": TOKEN, "webhook_secret": "short"}, "webhook_secret: must be 16-256 characters"),
    ({"token": TOKEN, "api_server": "ftp://x"}, "api_server: must be an http(s) URL"),
    ({"token": TOKEN, "webhook_path": "no-slash"}, "webhook_path: must be a URL path"),
    ({"token": TOKEN, "media_types": ["audio"]}, "is not a content type"),
    ({"token": TOKEN, "tokn": "x"}, "channels.telegram.default.tokn: unknown key"),
    ({"a": {"token": TOKEN}, "b": {"token": TOKEN}}, "b.token: the same bot as a"),
    ({"token": TOKEN, "default": {"token": OTHER}}, "either in [channels.telegram] or in [channels.telegram.default]"),
    ({"a": {"token": TOKEN, "mode": "webhook", "webhook_secret": "s" * 16, "webhook_path": "/x"},
      "b": {"token": OTHER, "mode": "webhook", "webhook_secret": "s" * 16, "webhook_path": "/x"}}, "/x is already used by a"),
    ({"Shop!": {"token": TOKEN}}, "channels.telegram.Shop!"),
])
def test_a_bad_bot_stops_start_up_naming_the_key(tmp_path, telegram, complaint):
    with pytest.raises(ConfigError) as failure:
        settings(tmp_path, telegram)
    assert complaint in str(failure.value)
    assert TOKEN.split(":")[1] not in str(failure.value)


def test_the_token_may_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TG_TOKEN_FOR_TEST", TOKEN)
    bot = settings(tmp_path, {"token": "env:TG_TOKEN_FOR_TEST"}).channels.telegram["default"]
    assert bot.token.get_secret_value() == TOKEN


def test_config_example_documents_every_key_with_its_default():
    text = EXAMPLE.read_text(encoding="utf-8")
    block = text[text.index("# [channels.telegram]"):text.index("# [channels.telegram.shop]")]
    uncommented = "\n".join(re.sub(r"^# ?", "", line) for line in block.splitlines() if re.match(r"^# (\[|[a-z_]+ = )", line))
    table = tomllib.loads(uncommented)["channels"]["telegram"]
    table["token"] = TOKEN
    table["webhook_secret"] = "s" * 16  # the example reads both from the environment
    bot = TelegramBotSettings.model_validate(table)
    assert set(table) == set(TelegramBotSettings.model_fields)
    defaults = TelegramBotSettings(token=TOKEN)
    for key in TelegramBotSettings.model_fields:
        if key not in ("token", "webhook_secret"):
            assert getattr(bot, key) == getattr(defaults, key), key
