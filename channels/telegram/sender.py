"""Sending one outbox message to Telegram: text parts in order, files, a keyboard; errors classified.

The outbox retries a message as a whole. A message sent in several parts remembers (in this
process) how many parts went, so a retry after a 429 on part 2 goes on from part 2 instead
of sending part 1 again. After a crash the outbox sends again from the start: at least once.

Order per client: while a message waits for a retry, newer messages to the same chat are sent
back to the outbox to wait too (a wait, not a failed attempt), so the client reads them in the
order the desk wrote them even through a 429 storm.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from bot.domain import Attachment, OutboundMessage
from bot.errors import DeliveryError
from channels.base import DeskPort
from channels.telegram.api import Blocked, BotAPI, RateLimited, Refused, TelegramError, TokenRejected
from channels.telegram.compose import keyboard, split_text, to_html
from channels.telegram.limits import SendLimiter

logger = logging.getLogger(__name__)
MAX_INLINE_WAIT = 2.0  # longer waits go back to the outbox (retry_after), so other channels' sends go on
ORDER_RETRY_SECONDS = 0.5
ORDER_GUARD_SECONDS = 15 * 60  # a message the outbox may have given up on stops holding newer ones back
PHOTO_TYPES = ("image/jpeg", "image/png")
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # sendPhoto's limit; larger pictures go as documents
PROGRESS_KEPT = 1000
BLOCKED_REASON = "the client blocked the bot"


@dataclass(frozen=True)
class Part:
    text: str = ""  # HTML
    keyboard: list | None = None
    attachment: Attachment | None = None


def parts_of(message: OutboundMessage) -> list[Part]:
    """Text parts (split above 4096), the files, and the choices on the last text part."""
    text = message.text.strip()
    parts = [Part(text=to_html(chunk)) for chunk in split_text(text)] if text else []
    files = [Part(attachment=a) for a in message.attachments if a.id is not None]
    choices = keyboard(message.choices) if message.choices else None
    if choices:
        if not parts:
            parts = [Part(text="…")]
        parts[-1] = Part(text=parts[-1].text, keyboard=choices)
    return parts + files


class Sender:
    """Sends outbox messages of one bot within Telegram's limits."""

    def __init__(self, channel: str, api: BotAPI, desk: DeskPort, limiter: SendLimiter):
        self.channel = channel
        self.api = api
        self.desk = desk
        self.limiter = limiter
        self._progress: OrderedDict[int, tuple[int, str]] = OrderedDict()  # desk message id -> (parts sent, first id)
        self._unsent: dict[str, dict[int, float]] = {}  # chat -> desk message ids waiting for a retry -> until

    async def send(self, message: OutboundMessage) -> str:
        try:
            platform_id = await self._send(message)
        except DeliveryError as exc:
            if exc.permanent:
                self._settled(message)
            else:
                self._unsent.setdefault(message.chat_id, {})[message.message_id] = time.monotonic() + ORDER_GUARD_SECONDS
            raise
        self._settled(message)
        return platform_id

    def _settled(self, message: OutboundMessage) -> None:
        waiting = self._unsent.get(message.chat_id)
        if waiting is not None:
            waiting.pop(message.message_id, None)
            if not waiting:
                del self._unsent[message.chat_id]

    def _earlier_unsent(self, message: OutboundMessage) -> bool:
        """Whether an older message to the same chat is still waiting for a retry (it must go first)."""
        waiting = self._unsent.get(message.chat_id, {})
        now = time.monotonic()
        for message_id in [m for m, until in waiting.items() if until < now]:
            del waiting[message_id]  # the outbox gave up on it long ago
        return any(m < message.message_id for m in waiting)

    async def _send(self, message: OutboundMessage) -> str:
        chat = message.chat_id
        parts = parts_of(message)
        if not parts:
            raise DeliveryError("the message is empty", permanent=True)
        if self._earlier_unsent(message):
            # The outbox retries a failed message later; the client must not see a newer one first.
            raise DeliveryError("waiting for an earlier message to this client to go first",
                                retry_after=max(ORDER_RETRY_SECONDS, self.limiter.delay(chat)))
        done, first = self._progress.get(message.message_id, (0, ""))
        for index in range(done, len(parts)):
            # Asked again after every wait: chats sent to at once wake for the same free moment, and only
            # as many as it frees may go (the check and `sent` run with no await between them).
            while wait := self.limiter.delay(chat):
                if wait > MAX_INLINE_WAIT:
                    raise DeliveryError(f"waiting {wait:.1f} s for Telegram's rate limit", retry_after=wait)
                await asyncio.sleep(wait)
            self.limiter.sent(chat)
            try:
                platform_id = await self._send_part(message, parts[index])
            except TelegramError as exc:
                raise await self._failure(chat, exc) from None
            first = first or f"{chat}:{platform_id}"
            self._remember(message.message_id, index + 1, first)
        self._progress.pop(message.message_id, None)
        return first

    def _remember(self, message_id: int, sent: int, first: str) -> None:
        self._progress[message_id] = (sent, first)
        self._progress.move_to_end(message_id)
        while len(self._progress) > PROGRESS_KEPT:
            self._progress.popitem(last=False)

    async def _send_part(self, message: OutboundMessage, part: Part) -> int:
        if part.attachment is None:
            return await self.api.send_text(message.chat_id, part.text, keyboard=part.keyboard)
        found = await self.desk.attachment(self.channel, message.chat_id, part.attachment.id)
        if found is None:
            raise Refused(f"the attachment {part.attachment.filename} is no longer stored")
        meta, data = found
        kind = "photo" if meta.content_type in PHOTO_TYPES and len(data) <= MAX_PHOTO_BYTES else "document"
        return await self.api.send_file(message.chat_id, kind, meta.filename, data)

    async def _failure(self, chat: str, exc: TelegramError) -> DeliveryError:
        """What the outbox should do: wait as told, retry later, or give up and tell the operator."""
        if isinstance(exc, RateLimited):
            self.limiter.block(chat, exc.retry_after)
            return DeliveryError(f"Telegram asked to wait {exc.retry_after:g} s (too many messages)", retry_after=exc.retry_after)
        if isinstance(exc, Blocked):
            # Retrying cannot help until the client allows the bot again (Telegram then sends my_chat_member).
            await self.desk.set_reachability(self.channel, chat, False, BLOCKED_REASON)
            return DeliveryError(f"{BLOCKED_REASON} (Telegram: {exc})", permanent=True)
        if isinstance(exc, Refused):
            return DeliveryError(f"Telegram refused the message: {exc}", permanent=True)
        if isinstance(exc, TokenRejected):
            logger.error("%s: Telegram refused the bot's token while sending: %s", self.channel, exc)
            return DeliveryError("Telegram refused the bot's token; the admin must fix the configuration")
        return DeliveryError(f"Telegram is not reachable: {exc}")
