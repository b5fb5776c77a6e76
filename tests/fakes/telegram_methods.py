"""The Bot API methods the fake server answers, checked the way Telegram checks them.

Kept apart from the server's plumbing (telegram_api.py); FakeBotAPI mixes them in.
"""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from aiohttp import web

BOT = {"id": 123456789, "is_bot": True, "first_name": "Shop help", "username": "shop_help_bot",
       "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
        "blockquote", "tg-emoji"}
BAD_AMPERSAND = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")


class _Conflict(ValueError):
    """409: getUpdates while a webhook is set."""


class _Forbidden(ValueError):
    """403: the user blocked the bot."""


@dataclass
class Fault:
    status: int
    description: str
    retry_after: int | None = None


@dataclass
class Sent:
    method: str
    chat_id: str
    message_id: int
    text: str = ""
    parse_mode: str = ""
    reply_markup: dict | None = None
    filename: str = ""
    data: bytes = b""


@dataclass
class StoredFile:
    path: str
    data: bytes
    held: asyncio.Event | None = None  # set: the download may go on
    requested: asyncio.Event = field(default_factory=asyncio.Event)


class _Visible(HTMLParser):
    """The text Telegram would show for an HTML message, and the tags it could not accept."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.bad: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in TAGS:
            self.bad.append(tag)

    def handle_endtag(self, tag):
        if tag not in TAGS:
            self.bad.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def visible_text(markup: str) -> str:
    """Parse like Telegram's parse_mode HTML; raise ValueError with Telegram's wording when it cannot."""
    stripped = re.sub(r"</?[a-z-]+(?:\s[^<>]*)?>", "", markup)
    if "<" in stripped or ">" in stripped or BAD_AMPERSAND.search(markup):
        raise ValueError("Bad Request: can't parse entities: unsupported start tag or unescaped character")
    parser = _Visible()
    parser.feed(markup)
    parser.close()
    if parser.bad:
        raise ValueError(f"Bad Request: can't parse entities: Unsupported start tag \"{parser.bad[0]}\"")
    return "".join(parser.text)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class BotAPIMethods:
    """getMe, getUpdates, send*, getFile and the download, answerCallbackQuery, the webhook methods."""

    # --- methods ---

    async def _m_getMe(self, params: dict) -> dict:
        return BOT

    async def _m_getUpdates(self, params: dict) -> list[dict]:
        offset = int(params["offset"]) if params.get("offset") not in (None, "") else None
        self.offsets.append(offset)
        await self._poke()  # the offset is news (a confirmation) before the long poll ends
        if self.webhook["url"]:
            raise _Conflict()
        if offset is not None:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed: forgotten
        limit = int(params.get("limit") or 100)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + int(params.get("timeout") or 0)
        while not self.updates and not self._closing and loop.time() < deadline:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), deadline - loop.time())
            except asyncio.TimeoutError:
                break
        return self.updates[:limit]

    def _chat(self, params: dict) -> str:
        chat_id = str(params.get("chat_id", ""))
        if not re.fullmatch(r"-?\d+", chat_id):
            raise ValueError("Bad Request: chat not found")
        if chat_id in self.blocked:
            raise _Forbidden()
        return chat_id

    @staticmethod
    def _markup(params: dict) -> dict | None:
        raw = params.get("reply_markup")
        if not raw:
            return None
        markup = json.loads(raw) if isinstance(raw, str) else raw
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode("utf-8")) <= 64:
                    raise ValueError("Bad Request: BUTTON_DATA_INVALID")
                if not button.get("text"):
                    raise ValueError("Bad Request: text buttons are unallowed in the inline keyboard")
        return markup

    async def _m_sendMessage(self, params: dict) -> dict:
        chat_id = self._chat(params)
        text = params.get("text", "")
        mode = params.get("parse_mode", "")
        shown = visible_text(text) if mode == "HTML" else text
        if not shown.strip():
            raise ValueError("Bad Request: message text is empty")
        if utf16_len(shown) > 4096:
            raise ValueError("Bad Request: message is too long")
        markup = self._markup(params)
        message = self._message(chat_id, text=shown, **({"reply_markup": markup} if markup else {}))
        self.sent.append(Sent("sendMessage", chat_id, message["message_id"], text, mode, markup))
        return message

    def _upload(self, params: dict, field: str) -> tuple[str, bytes]:
        value = params.get(field)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value[len("attach://"):])
        if not isinstance(value, dict):
            raise ValueError(f"Bad Request: there is no {field} in the request")
        return value["filename"], value["data"]

    async def _m_sendPhoto(self, params: dict) -> dict:
        chat_id = self._chat(params)
        filename, data = self._upload(params, "photo")
        if len(data) > 10 * 1024 * 1024:
            raise ValueError("Bad Request: PHOTO_INVALID_DIMENSIONS")
        message = self._message(chat_id, photo=[{"file_id": f"sent{len(self.sent)}", "file_unique_id": f"u{len(self.sent)}",
                                                 "width": 800, "height": 600, "file_size": len(data)}])
        self.sent.append(Sent("sendPhoto", chat_id, message["message_id"], filename=filename, data=data))
        return message

    async def _m_sendDocument(self, params: dict) -> dict:
        chat_id = self._chat(params)
        filename, data = self._upload(params, "document")
        message = self._message(chat_id, document={"file_id": f"sent{len(self.sent)}", "file_unique_id": f"u{len(self.sent)}",
                                                   "file_name": filename, "file_size": len(data)})
        self.sent.append(Sent("sendDocument", chat_id, message["message_id"], filename=filename, data=data))
        return message

    async def _m_getFile(self, params: dict) -> dict:
        stored = self.files.get(params.get("file_id", ""))
        if stored is None:
            raise ValueError("Bad Request: invalid file_id")
        if len(stored.data) > 20 * 1024 * 1024:
            raise ValueError("Bad Request: file is too big")
        return {"file_id": params["file_id"], "file_unique_id": f"u-{params['file_id']}", "file_size": len(stored.data),
                "file_path": stored.path}

    async def _download(self, path: str) -> web.Response:
        stored = next((f for f in self.files.values() if f.path == path), None)
        if stored is None:
            return web.Response(status=404, text="Not Found")
        stored.requested.set()
        if stored.held is not None:
            await stored.held.wait()
        if self.faults["download"]:
            fault = self.faults["download"].popleft()
            return web.Response(status=fault.status, text=fault.description)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _m_sendChatAction(self, params: dict) -> bool:
        chat_id = self._chat(params)
        if params.get("action") not in ("typing", "upload_photo", "upload_document"):
            raise ValueError("Bad Request: wrong parameter action in request")
        self.chat_actions.append((chat_id, params["action"]))
        return True

    async def _m_answerCallbackQuery(self, params: dict) -> bool:
        if not params.get("callback_query_id"):
            raise ValueError("Bad Request: query is too old and response timeout expired or query ID is invalid")
        self.answered.append(params["callback_query_id"])
        return True

    async def _m_setWebhook(self, params: dict) -> bool:
        url = params.get("url", "")
        if url and not re.match(r"https?://", url):
            raise ValueError("Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        allowed = params.get("allowed_updates")
        self.webhook = {"url": url, "secret_token": params.get("secret_token", ""),
                        "allowed_updates": json.loads(allowed) if isinstance(allowed, str) else allowed}
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self.updates.clear()
        return True

    async def _m_deleteWebhook(self, params: dict) -> bool:
        self.webhook = {"url": "", "secret_token": "", "allowed_updates": None}
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self.updates.clear()
        return True

    async def _m_getWebhookInfo(self, params: dict) -> dict:
        info = {"url": self.webhook["url"], "has_custom_certificate": False, "pending_update_count": len(self.updates)}
        if self.webhook["allowed_updates"] is not None:
            info["allowed_updates"] = self.webhook["allowed_updates"]
        if self.webhook_error:
            info.update(last_error_date=1795500000, last_error_message=self.webhook_error)
        return info
