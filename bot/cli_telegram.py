"""`helpline telegram set-webhook|delete-webhook|status`: a bot's webhook, and what Telegram says about it.

aiogram is imported only inside the commands, so the rest of the CLI stays fast. Each command
asks Telegram afterwards (getWebhookInfo) and prints what it says: a webhook that did not
register, or that Telegram cannot reach, shows here instead of failing silently.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from bot.config import Settings, load_settings
from bot.errors import HelplineError
from bot.telegram_config import TelegramBotSettings, channel_name, webhook_path


def _settings(args) -> Settings:
    return load_settings(Path(args.config) if args.config else None)


def _bot(settings: Settings, wanted: str | None) -> tuple[str, TelegramBotSettings]:
    """The bot a command is about: --bot NAME (or its channel name), or the only one configured."""
    bots = settings.channels.telegram
    if not bots:
        raise HelplineError("no Telegram bot is configured: add a [channels.telegram] section (see config.example.toml)")
    if wanted is None:
        if len(bots) > 1:
            raise HelplineError(f"several bots are configured ({', '.join(sorted(bots))}): choose one with --bot NAME")
        return next(iter(bots.items()))
    for name, bot in bots.items():
        if wanted in (name, channel_name(name)):
            return name, bot
    raise HelplineError(f"no Telegram bot named {wanted!r} (configured: {', '.join(sorted(bots))})")


def _run(bot: TelegramBotSettings, name: str, work):
    """Run ``work(api)`` against the bot's Bot API server; Telegram's refusals become clear messages."""
    from channels.telegram.api import BotAPI, TelegramError, TokenRejected

    async def go():
        api = BotAPI(bot.token.get_secret_value(), bot.api_server)
        try:
            return await work(api)
        finally:
            await api.close()

    try:
        return asyncio.run(go())
    except TokenRejected as exc:
        key = "channels.telegram.token" if name == "default" else f"channels.telegram.{name}.token"
        raise HelplineError(f"Telegram refused the token of the bot {name!r} ({exc}): check {key}") from None
    except TelegramError as exc:
        raise HelplineError(f"the Bot API at {bot.api_server} said: {exc}") from None


def _when(timestamp: object) -> str:
    if not isinstance(timestamp, (int, float)):
        return ""
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _print_info(info: dict) -> None:
    print(f"  webhook:          {info.get('url') or '(none: the bot is polled with getUpdates)'}")
    print(f"  pending updates:  {info.get('pending_update_count', 0)}")
    if info.get("last_error_message"):
        print(f"  last error:       {info['last_error_message']} ({_when(info.get('last_error_date'))})")
    else:
        print("  last error:       none")
    if info.get("allowed_updates"):
        print(f"  allowed updates:  {', '.join(info['allowed_updates'])}")


def _ignored(settings: Settings, channel: str) -> dict | None:
    """What the channel recorded as ignored (group chats, unsupported updates); None when the database cannot say."""
    from sqlalchemy.engine import make_url

    from bot.storage.engine import create_engine, session_factory
    from bot.storage.queries import channel_state

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
        return None  # no desk has run here yet (and a status check must not create the database)

    async def read():
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as s:
                return await channel_state(s, channel, "ignored")
        finally:
            await engine.dispose()

    try:
        return asyncio.run(read())
    except Exception:  # no database yet, or not reachable: the API's view above still stands
        return None


def cmd_set_webhook(args) -> int:
    from channels.telegram.normalize import ALLOWED_UPDATES

    name, bot = _bot(_settings(args), args.bot)
    if bot.mode != "webhook":
        raise HelplineError(f"the bot {name!r} is in polling mode: set mode = \"webhook\" (and webhook_secret) in its "
                            "section first; while a webhook is set Telegram refuses getUpdates")
    parts = urlsplit(args.url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise HelplineError(f"{args.url!r} is not a URL (Telegram needs https://host/path)")
    path = webhook_path(name, bot)
    if parts.path != path:
        print(f"warning: the desk takes this bot's updates at {path}, not {parts.path or '/'}; "
              "unless a proxy rewrites the path, Telegram's posts will not arrive")

    async def work(api):
        await api.set_webhook(args.url, bot.webhook_secret.get_secret_value(), ALLOWED_UPDATES, args.drop_pending_updates)
        return await api.webhook_info()

    info = _run(bot, name, work)
    if info.get("url") != args.url:
        raise HelplineError(f"Telegram did not keep the webhook (it reports {info.get('url') or 'none'})")
    print(f"webhook of {channel_name(name)} set: Telegram now posts updates to {args.url}")
    _print_info(info)
    return 0


def cmd_delete_webhook(args) -> int:
    name, bot = _bot(_settings(args), args.bot)

    async def work(api):
        await api.delete_webhook(args.drop_pending_updates)
        return await api.webhook_info()

    info = _run(bot, name, work)
    print(f"webhook of {channel_name(name)} removed: the bot can be polled with getUpdates")
    _print_info(info)
    return 0


def cmd_status(args) -> int:
    settings = _settings(args)
    names = [args.bot] if args.bot else sorted(settings.channels.telegram) or [None]
    for wanted in names:
        name, bot = _bot(settings, wanted)

        async def work(api):
            return await api.get_me(), await api.webhook_info()

        me, info = _run(bot, name, work)
        print(f"{channel_name(name)}: @{me.username} (id {me.id}), {bot.mode} mode, Bot API at {bot.api_server}")
        _print_info(info)
        ignored = _ignored(settings, channel_name(name))
        if ignored:
            counts = ", ".join(f"{reason}: {n}" for reason, n in sorted(ignored.get("counts", {}).items()))
            print(f"  ignored updates:  {counts or 'none'}")
        if bot.mode == "polling" and info.get("url"):
            print("  warning: a webhook is set, so polling gets nothing: run `helpline telegram delete-webhook`")
        if bot.mode == "webhook" and not info.get("url"):
            print(f"  warning: webhook mode, but no webhook is set: run `helpline telegram set-webhook "
                  f"https://YOUR-HOST{webhook_path(name, bot)}`")
    return 0


def add_telegram_commands(sub) -> None:
    """Register `telegram set-webhook`, `telegram delete-webhook` and `telegram status`."""
    commands = sub.add_parser("telegram", help="Telegram bots: webhook and status").add_subparsers(
        dest="telegram_command", required=True, metavar="ACTION")
    config_help = "TOML config file (default: the built-in demo configuration)"
    bot_help = "the bot's name in [channels.telegram.NAME] (needed when several are configured)"
    set_hook = commands.add_parser("set-webhook", help="tell Telegram to post this bot's updates to URL")
    set_hook.add_argument("url", metavar="URL", help="the public https URL of the bot's webhook path on this desk")
    set_hook.add_argument("--bot", help=bot_help)
    set_hook.add_argument("--config", help=config_help)
    set_hook.add_argument("--drop-pending-updates", action="store_true", help="discard updates Telegram still holds")
    set_hook.set_defaults(func=cmd_set_webhook)
    delete = commands.add_parser("delete-webhook", help="remove the webhook (back to polling)")
    delete.add_argument("--bot", help=bot_help)
    delete.add_argument("--config", help=config_help)
    delete.add_argument("--drop-pending-updates", action="store_true", help="discard updates Telegram still holds")
    delete.set_defaults(func=cmd_delete_webhook)
    status = commands.add_parser("status", help="what Telegram says about the bot: webhook, pending updates, last error")
    status.add_argument("--bot", help=bot_help)
    status.add_argument("--config", help=config_help)
    status.set_defaults(func=cmd_status)
