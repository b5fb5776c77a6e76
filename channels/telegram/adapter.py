"""TelegramChannel: one configured bot as a channel adapter (start, stop, send, webhook route).

Start-up checks the token with getMe. A token Telegram refuses stops start-up with a clear
message (retrying cannot help); an API that cannot be reached is retried with back-off in the
background while the rest of the desk serves, and receiving starts once it answers.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from aiohttp import web

from bot.domain import OutboundMessage
from channels.base import DeskPort
from channels.telegram.api import BotAPI, BotInfo, TelegramError, TokenRejected
from channels.telegram.limits import Backoff, SendLimiter
from channels.telegram.pipeline import Pipeline
from channels.telegram.polling import Poller
from channels.telegram.sender import Sender
from channels.telegram.webhook import WebhookEndpoint

if TYPE_CHECKING:
    from bot.telegram_config import TelegramBotSettings  # the type only: channels do not depend on the desk's config code

logger = logging.getLogger(__name__)
TYPING_EVERY = 4.0  # seconds
STANDBY_SECONDS = 15.0  # how often a standing-by process tries to take over polling


class TelegramChannel:
    """A Telegram bot: long polling or webhook in, the outbox's messages out, the operator's typing shown."""

    def __init__(self, name: str, settings: TelegramBotSettings, desk: DeskPort, *, max_bytes: int,
                 allowed_types: tuple[str, ...], webhook_path: str, token_key: str,
                 backoff: tuple[float, float] = (1.0, 60.0)):
        self.name = name
        self.desk = desk
        self.settings = settings
        self.token_key = token_key  # where the admin fixes a refused token, for the error message
        self.webhook_path = webhook_path
        self.backoff = backoff
        self.api = BotAPI(settings.token.get_secret_value(), settings.api_server)
        self.pipeline = Pipeline(name, self.api, desk, album_wait=settings.album_wait_seconds, max_bytes=max_bytes,
                                 allowed_types=tuple(allowed_types) + tuple(settings.media_types))
        self.sender = Sender(name, self.api, desk, SendLimiter(
            settings.chat_messages_per_second, settings.messages_per_second, settings.group_messages_per_minute))
        self.webhook = WebhookEndpoint(name, settings.webhook_secret.get_secret_value(), self.pipeline) \
            if settings.mode == "webhook" else None
        self.poller: Poller | None = None
        self.info: BotInfo | None = None
        self._task: asyncio.Task | None = None
        self._typing: dict[str, float] = {}  # chat -> when "typing" was last shown

    async def start(self) -> None:
        """getMe first: a refused token stops start-up; an unreachable API is retried in the background."""
        try:
            self.info = await self.api.get_me()
        except TokenRejected as exc:
            await self.api.close()
            raise TokenRejected(f"Telegram refused the token of the bot {self.name!r} ({exc}): check {self.token_key} "
                                f"(the token @BotFather gave, e.g. from an environment variable); not retrying") from None
        except TelegramError as exc:
            logger.warning("%s: the Bot API at %s cannot be reached (%s); the desk runs without this bot and keeps "
                           "trying", self.name, self.settings.api_server, exc)
            self._task = asyncio.get_running_loop().create_task(self._connect_then_receive(), name=f"{self.name}:connect")
            return
        self._task = asyncio.get_running_loop().create_task(self._receive(), name=f"{self.name}:receive")

    async def _connect_then_receive(self) -> None:
        backoff = Backoff(*self.backoff)
        while self.info is None:
            await asyncio.sleep(backoff.next())
            try:
                self.info = await self.api.get_me()
            except TokenRejected as exc:
                logger.error("%s: Telegram refused the bot's token (%s): check %s and restart; not retrying",
                             self.name, exc, self.token_key)
                return
            except TelegramError as exc:
                logger.warning("%s: the Bot API is still not reachable (%s); trying again", self.name, exc)
        await self._receive()

    async def _receive(self) -> None:
        logger.info("%s: connected as @%s (%s)", self.name, self.info.username, self.settings.mode)
        if self.webhook is not None:
            await self._check_webhook()
            return
        announced = False
        while True:
            # One process polls a bot (Telegram serves one getUpdates at a time); others stand by
            # and take over when it stops (its lock dies with it, even on kill -9).
            try:
                async with self.desk.singleton(f"telegram-polling:{self.info.id}") as mine:
                    if mine:
                        if announced:
                            logger.info("%s: this process polls the bot now", self.name)
                        await self._poll()
                        return
            except Exception:
                logger.exception("%s: the polling lock could not be taken; trying again", self.name)
            else:
                if not announced:
                    logger.info("%s: another desk process polls this bot; this one stands by", self.name)
                    announced = True
            await asyncio.sleep(STANDBY_SECONDS)

    async def _poll(self) -> None:
        restarts = Backoff(*self.backoff)
        while True:
            self.poller = Poller(self.name, self.api, self.pipeline.handle, timeout=self.settings.polling_timeout,
                                 busy_interval=self.settings.album_wait_seconds / 2,
                                 backoff=Backoff(*self.backoff), retry=Backoff(*self.backoff))
            try:
                await self.poller.run()
                return  # Telegram refused the token: logged, nothing more to do
            except Exception:
                # A bug, not Telegram: keep the bot receiving (nothing unconfirmed is lost by a restart).
                delay = restarts.next()
                logger.exception("%s: polling failed; starting it again in %.1f s", self.name, delay)
                await asyncio.sleep(delay)

    async def _check_webhook(self) -> None:
        """Say so when Telegram posts nowhere, or elsewhere, or reports errors: webhooks must not fail silently."""
        try:
            info = await self.api.webhook_info()
        except TelegramError as exc:
            logger.warning("%s: getWebhookInfo failed: %s", self.name, exc)
            return
        url = info.get("url", "")
        if not url:
            logger.warning("%s: webhook mode, but Telegram has no webhook for this bot: run `helpline telegram "
                           "set-webhook https://YOUR-HOST%s --bot ...`", self.name, self.webhook_path)
        elif not url.split("?")[0].endswith(self.webhook_path):
            logger.warning("%s: Telegram posts to %s, which is not this bot's path %s", self.name, url, self.webhook_path)
        if info.get("last_error_message"):
            logger.warning("%s: Telegram's last webhook error: %s", self.name, info["last_error_message"])

    async def stop(self) -> None:
        """Stop receiving (updates in hand may finish committing) and close the session; safe twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.api.close()

    async def send(self, message: OutboundMessage) -> str:
        """Deliver one outbox message; returns "CHAT:MESSAGE" of its first part."""
        return await self.sender.send(message)

    async def show_typing(self, chat_id: str) -> None:
        """The operator is typing: Telegram shows "typing…" for about 5 s, so once per TYPING_EVERY is enough."""
        now = time.monotonic()
        if now - self._typing.get(chat_id, -TYPING_EVERY) < TYPING_EVERY:
            return
        self._typing[chat_id] = now
        if len(self._typing) > 10_000:
            self._typing = {c: t for c, t in self._typing.items() if now - t < TYPING_EVERY}
        try:
            await self.api.send_typing(chat_id)
        except TelegramError as exc:  # a courtesy: never worth more than a debug line
            logger.debug("%s: typing indicator for %s failed: %s", self.name, chat_id, exc)

    def routes(self) -> list[web.RouteDef]:
        if self.webhook is None:
            return []
        return [web.post(self.webhook_path, self.webhook.handle, name=f"{self.name}-webhook")]
