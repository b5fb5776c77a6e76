"""The Bot API through aiogram: one Bot per configured bot, and its errors sorted into what we do next.

This is the only module of the channel that imports aiogram (about 3 s of start-up), so the
desk's other code, and a config check, never pay for it. Every error leaving here is one of
the classes below, its text free of the token.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram import exceptions as tg
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods import GetUpdates, SendMessage
from aiogram.methods.base import Response
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, ReplyParameters

from bot.errors import HelplineError
from channels.telegram.redact import protect, redact

REQUEST_TIMEOUT = 30  # seconds for one call; getUpdates adds its long-poll time
CHECK_TIMEOUT = 10  # getMe at start-up: fail fast, retry in the background


class TelegramError(HelplineError):
    """A Bot API call failed; the subclass says how."""


class TokenRejected(TelegramError):
    """401/404: the token is wrong or revoked. Retrying cannot help; the admin must fix the config."""


class Blocked(TelegramError):
    """403: the user blocked the bot (or deleted their account); messages cannot reach them."""


class RateLimited(TelegramError):
    """429: wait ``retry_after`` seconds before sending to that chat again."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class Refused(TelegramError):
    """400 and other refusals of this very request: sending it again gets the same answer."""


class Conflict(TelegramError):
    """409: a webhook is set, or another process is polling this bot."""


class Unreachable(TelegramError):
    """Network errors, timeouts, 5xx: Telegram may answer later."""


class TooLarge(TelegramError):
    """A file over the size the desk accepts."""


class RawGetUpdates(GetUpdates):
    """getUpdates answering JSON objects: normalize reads the wire format, and an update that
    aiogram's models cannot parse (a newer Bot API) never blocks the queue behind it."""

    __returning__ = list[dict[str, Any]]


class RawSendMessage(SendMessage):
    """sendMessage answering the JSON object: the desk needs only the message id, so the whole
    Message model (the sender, the chat, entities) is not built for every message sent."""

    __returning__ = dict[str, Any]


# aiogram parses every answer as Response[method.__returning__]; pydantic keeps such a class only
# while something refers to it, so without these references it was built again for each call.
PARSED_ANSWERS = (Response[list[dict[str, Any]]], Response[dict[str, Any]])


@dataclass(frozen=True)
class BotInfo:
    id: int
    username: str


def translate(exc: BaseException) -> TelegramError:
    """An aiogram or network error as one of ours, with the token masked."""
    text = redact(str(exc))
    if isinstance(exc, TelegramError):
        return exc
    if isinstance(exc, tg.TelegramRetryAfter):
        return RateLimited(text, float(exc.retry_after))
    if isinstance(exc, (tg.TelegramUnauthorizedError, tg.TelegramNotFound)):
        return TokenRejected(text)
    if isinstance(exc, tg.TelegramForbiddenError):
        return Blocked(text)
    if isinstance(exc, tg.TelegramConflictError):
        return Conflict(text)
    if isinstance(exc, (tg.TelegramServerError, tg.TelegramNetworkError, tg.ClientDecodeError,
                        asyncio.TimeoutError, OSError)):
        return Unreachable(text or type(exc).__name__)
    if isinstance(exc, tg.TelegramAPIError) and "Too Many Requests" in text:
        return RateLimited(text, 1.0)  # a 429 without retry_after: wait a little
    if isinstance(exc, (tg.TelegramBadRequest, tg.TelegramAPIError)):
        return Refused(text)
    return Unreachable(f"{type(exc).__name__}: {text}")


class BotAPI:
    """The calls the channel makes; each raises only TelegramError subclasses."""

    def __init__(self, token: str, api_server: str):
        protect(token)
        self.api_server = api_server
        self.bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_server), timeout=REQUEST_TIMEOUT))

    async def close(self) -> None:
        await self.bot.session.close()

    async def _call(self, coro):
        try:
            return await coro
        except Exception as exc:
            raise translate(exc) from None

    async def get_me(self, timeout: int = CHECK_TIMEOUT) -> BotInfo:
        me = await self._call(self.bot.get_me(request_timeout=timeout))
        return BotInfo(me.id, me.username or "")

    async def get_updates(self, offset: int | None, timeout: int, allowed: tuple[str, ...], limit: int = 100) -> list[dict]:
        """Updates from ``offset`` on; calling with an offset confirms every update before it (Bot API)."""
        method = RawGetUpdates(offset=offset, timeout=timeout, limit=limit, allowed_updates=list(allowed))
        return await self._call(self.bot(method, request_timeout=REQUEST_TIMEOUT + timeout))

    async def download(self, file_id: str, limit: int) -> bytes:
        """A file's bytes (getFile, then the file URL), refused as TooLarge past ``limit`` bytes."""
        info = await self._call(self.bot.get_file(file_id, request_timeout=REQUEST_TIMEOUT))
        if info.file_size is not None and info.file_size > limit:
            raise TooLarge(f"{info.file_size} bytes")
        if not info.file_path:
            raise Refused("Telegram gave no file path (files over 20 MB cannot be fetched by bots)")
        url = self.bot.session.api.file_url(self.bot.token, info.file_path)
        chunks, size = [], 0
        try:
            async for chunk in self.bot.session.stream_content(url, timeout=REQUEST_TIMEOUT * 4, raise_for_status=True):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"more than {limit} bytes")
                chunks.append(chunk)
        except TelegramError:
            raise
        except Exception as exc:
            status = getattr(exc, "status", 0)
            if 400 <= status < 500:
                raise Refused(f"file download answered {status}") from None
            raise Unreachable(f"file download failed: {redact(str(exc)) or type(exc).__name__}") from None
        return b"".join(chunks)

    async def send_text(self, chat_id: str, html: str, *, keyboard: list[list[dict]] | None = None,
                        reply_to: int | None = None) -> int:
        markup = InlineKeyboardMarkup.model_validate({"inline_keyboard": keyboard}) if keyboard else None
        reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None
        method = RawSendMessage(chat_id=chat_id, text=html, parse_mode="HTML", reply_markup=markup,
                                reply_parameters=reply)
        sent = await self._call(self.bot(method, request_timeout=REQUEST_TIMEOUT))
        message_id = sent.get("message_id") if isinstance(sent, dict) else None
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise Unreachable("sendMessage answered without a message id")
        return message_id

    async def send_file(self, chat_id: str, kind: str, filename: str, data: bytes) -> int:
        """sendPhoto for pictures, sendDocument for anything else."""
        upload = BufferedInputFile(data, filename=filename)
        if kind == "photo":
            sent = await self._call(self.bot.send_photo(chat_id, upload, request_timeout=REQUEST_TIMEOUT * 4))
        else:
            sent = await self._call(self.bot.send_document(chat_id, upload, request_timeout=REQUEST_TIMEOUT * 4))
        return sent.message_id

    async def send_typing(self, chat_id: str) -> None:
        await self._call(self.bot.send_chat_action(chat_id, "typing", request_timeout=CHECK_TIMEOUT))

    async def answer_callback(self, callback_id: str) -> None:
        await self._call(self.bot.answer_callback_query(callback_id, request_timeout=REQUEST_TIMEOUT))

    async def set_webhook(self, url: str, secret: str, allowed: tuple[str, ...], drop_pending: bool = False) -> None:
        await self._call(self.bot.set_webhook(url=url, secret_token=secret, allowed_updates=list(allowed),
                                              drop_pending_updates=drop_pending, request_timeout=REQUEST_TIMEOUT))

    async def delete_webhook(self, drop_pending: bool = False) -> None:
        await self._call(self.bot.delete_webhook(drop_pending_updates=drop_pending, request_timeout=REQUEST_TIMEOUT))

    async def webhook_info(self) -> dict:
        info = await self._call(self.bot.get_webhook_info(request_timeout=REQUEST_TIMEOUT))
        return info.model_dump(mode="json", exclude_none=True)
