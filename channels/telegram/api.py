"""The Bot API through aiogram: one Bot per configured bot, and its errors sorted into what we do next.

This is the only module of the channel that imports aiogram (about 3 s of start-up), so the
desk's other code, and a config check, never pay for it. The hot calls (getUpdates,
sendMessage) go as plain JSON on aiogram's session (wire.py). Every error leaving here is one of
channels.telegram.errors, its text free of the token.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from aiogram import Bot
from aiogram import exceptions as tg
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import BufferedInputFile

from channels.telegram import wire
from channels.telegram.errors import (Blocked, Conflict, RateLimited, Refused, TelegramError, TokenRejected,  # noqa: F401 (re-exported)
                                      TooLarge, Unreachable)
from channels.telegram.redact import protect, redact

REQUEST_TIMEOUT = 30  # seconds for one call; getUpdates adds its long-poll time
CHECK_TIMEOUT = 10  # getMe at start-up: fail fast, retry in the background


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

    async def _json(self, method: str, params: dict, timeout: float):
        session = await self.bot.session.create_session()
        return await wire.call(session, self.bot.session.api.api_url(self.bot.token, method), params, timeout)

    async def get_me(self, timeout: int = CHECK_TIMEOUT) -> BotInfo:
        me = await self._call(self.bot.get_me(request_timeout=timeout))
        return BotInfo(me.id, me.username or "")

    async def get_updates(self, offset: int | None, timeout: int, allowed: tuple[str, ...], limit: int = 100) -> list[dict]:
        """Updates from ``offset`` on; calling with an offset confirms every update before it (Bot API)."""
        params = {"timeout": timeout, "limit": limit, "allowed_updates": list(allowed)}
        if offset is not None:
            params["offset"] = offset
        # JSON objects, not aiogram's models: normalize reads the wire format, and an update that
        # aiogram cannot parse (a newer Bot API) never blocks the queue behind it.
        updates = await self._json("getUpdates", params, REQUEST_TIMEOUT + timeout)
        if not isinstance(updates, list):
            raise Unreachable("getUpdates answered without a list of updates")
        return updates

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
        """sendMessage in HTML; the desk needs only the message id, so no Message model is built."""
        params: dict = {"chat_id": chat_id, "text": html, "parse_mode": "HTML"}
        if keyboard:
            params["reply_markup"] = {"inline_keyboard": keyboard}
        if reply_to:
            params["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
        sent = await self._json("sendMessage", params, REQUEST_TIMEOUT)
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
