"""The `[channels.telegram]` section of the config: one or several bots, each its own channel.

`[channels.telegram]` with a bot's keys is the bot named "default" (channel "telegram");
`[channels.telegram.NAME]` tables are more bots (channel "telegram-NAME"). Kept apart from
bot.config so the Telegram keys live in one place; bot.config only mounts them. Nothing here
imports aiogram: validating a config must stay fast.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator, model_validator

# A Bot API token as @BotFather issues it: the bot's numeric id, a colon, a secret.
TOKEN = re.compile(r"[0-9]{3,20}:[A-Za-z0-9_-]{20,128}")
# What Telegram accepts as a webhook's secret_token.
SECRET = re.compile(r"[A-Za-z0-9_-]{16,256}")
BotName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
# Voice, audio and video notes come in these; every file is always served as a download.
MEDIA_TYPES = ("audio/ogg", "audio/mpeg", "audio/mp4", "video/mp4", "video/quicktime")


class TelegramBotSettings(BaseModel):
    """One Telegram bot."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr  # hidden from reprs; never in a URL we serve or a log line
    mode: Literal["polling", "webhook"] = "polling"
    api_server: str = "https://api.telegram.org"
    webhook_secret: SecretStr = SecretStr("")
    webhook_path: str = ""  # empty: /telegram/NAME/webhook
    polling_timeout: int = Field(25, ge=1, le=50)
    album_wait_seconds: float = Field(1.0, gt=0, le=10)
    media_types: tuple[str, ...] = MEDIA_TYPES
    chat_messages_per_second: float = Field(1.0, gt=0)
    messages_per_second: float = Field(30.0, gt=0)
    group_messages_per_minute: float = Field(20.0, gt=0)

    @field_validator("token", mode="before")
    @classmethod
    def _token_shape(cls, value: object) -> object:
        # The reason never echoes the value: it is a secret.
        if isinstance(value, str) and not TOKEN.fullmatch(value.strip()):
            raise ValueError("does not look like a bot token from @BotFather (digits, a colon, then the secret)")
        return value.strip() if isinstance(value, str) else value

    @field_validator("api_server")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be an http(s) URL such as https://api.telegram.org")
        return value.rstrip("/")

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _secret_shape(cls, value: object) -> object:
        if isinstance(value, str) and value and not SECRET.fullmatch(value):
            raise ValueError("must be 16-256 characters of A-Z, a-z, 0-9, _ and - (what Telegram accepts)")
        return value

    @field_validator("webhook_path")
    @classmethod
    def _path_shape(cls, value: str) -> str:
        if value and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value):
            raise ValueError("must be a URL path such as /telegram/shop/webhook")
        return value

    @field_validator("media_types")
    @classmethod
    def _types_shape(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", item):
                raise ValueError(f"{item!r} is not a content type such as audio/ogg")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> "TelegramBotSettings":
        if self.mode == "webhook" and not self.webhook_secret.get_secret_value():
            raise ValueError("webhook_secret: required in webhook mode, so only Telegram can post updates "
                             "(e.g. webhook_secret = \"env:TELEGRAM_WEBHOOK_SECRET\")")
        return self


def channel_name(bot: str) -> str:
    """The channel instance of a configured bot: "telegram" for the default one, else "telegram-NAME"."""
    return "telegram" if bot == "default" else f"telegram-{bot}"


def webhook_path(bot: str, settings: TelegramBotSettings) -> str:
    """Where the desk takes a bot's webhook posts: named after the bot, never after its token."""
    return settings.webhook_path or f"/telegram/{bot}/webhook"


def _default_bot(table: object) -> object:
    """`[channels.telegram]` holding a bot's own keys is the bot named "default"."""
    if not isinstance(table, dict):
        return table
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    if not scalars:
        return table
    named = {k: v for k, v in table.items() if isinstance(v, dict)}
    if "default" in named:
        raise ValueError("give the default bot's keys either in [channels.telegram] or in "
                         "[channels.telegram.default], not both")
    return {"default": scalars, **named}


def _distinct(bots: dict[str, TelegramBotSettings]) -> dict[str, TelegramBotSettings]:
    tokens: dict[str, str] = {}
    paths: dict[str, str] = {}
    for name, bot in bots.items():
        token = bot.token.get_secret_value()
        if token in tokens:
            raise ValueError(f"{name}.token: the same bot as {tokens[token]} (two channels cannot take one bot's updates)")
        tokens[token] = name
        path = webhook_path(name, bot)
        if bot.mode == "webhook" and path in paths:
            raise ValueError(f"{name}.webhook_path: {path} is already used by {paths[path]}")
        paths[path] = name
    return bots


TelegramBots = Annotated[dict[BotName, TelegramBotSettings], BeforeValidator(_default_bot), AfterValidator(_distinct)]
