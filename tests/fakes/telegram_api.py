"""A fake Telegram Bot API server on loopback, for the real aiogram client to talk to.

It answers like the Bot API (https://core.telegram.org/bots/api) for what the desk uses:
getMe, getUpdates (a long poll that forgets updates below the offset, as Telegram does),
sendMessage, sendPhoto, sendDocument, sendChatAction, getFile and the file download, answerCallbackQuery,
setWebhook, getWebhookInfo and deleteWebhook. It checks what it is sent the way Telegram does
(HTML that parses, at most 4096 characters, callback data of at most 64 bytes) and refuses the
rest with Telegram's errors. Tests inject 429, 5xx and 403 answers, hold file downloads, and
read what was sent. Any other request is recorded as unexpected: ``check()`` fails the test.
"""
from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
from collections import defaultdict, deque
from dataclasses import dataclass, field
from html.parser import HTMLParser

from aiohttp import web

TOKEN = "123456789:AAHfakeTOKENforTESTSabcdefghijklmno"
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


class FakeBotAPI:
    """One fake Bot API server for one bot token."""

    def __init__(self, token: str = TOKEN):
        self.token = token
        self.url = ""
        self.updates: list[dict] = []  # unconfirmed updates, oldest first
        self._ids = itertools.count(900_000_001)
        self._message_ids = itertools.count(5001)
        self._file_ids = itertools.count(1)
        self.offsets: list[int | None] = []  # the offset of every getUpdates call, in order
        self.calls: list[str] = []  # every method called with the right token, in order
        self.sent: list[Sent] = []
        self.answered: list[str] = []
        self.chat_actions: list[tuple[str, str]] = []
        self.unexpected: list[str] = []
        self.refused_tokens = 0
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.blocked: set[str] = set()
        self.files: dict[str, StoredFile] = {}
        self.webhook: dict = {"url": "", "secret_token": "", "allowed_updates": None}
        self.webhook_error = ""
        self._arrived = asyncio.Event()
        self._activity = asyncio.Condition()
        self.answered_event = asyncio.Event()  # set whenever a request was answered
        self._runner: web.AppRunner | None = None
        self._closing = False

    # --- lifecycle ---

    async def start(self, port: int) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"
        self._closing = False
        return self.url

    async def stop(self) -> None:
        self._closing = True
        self._arrived.set()
        for stored in self.files.values():
            if stored.held is not None:
                stored.held.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def check(self) -> None:
        """Fail the test if anything was asked that the Bot API (as the desk uses it) does not answer."""
        assert not self.unexpected, f"unexpected Bot API traffic: {self.unexpected}"

    # --- what tests do ---

    def push(self, *updates: dict) -> list[int]:
        """Queue updates as Telegram would (numbering those without an update_id); returns their ids."""
        ids = []
        for update in updates:
            update = dict(update)
            update.setdefault("update_id", next(self._ids))
            self.updates.append(update)
            ids.append(update["update_id"])
        self._arrived.set()
        return ids

    def fail(self, method: str, status: int, description: str = "", *, times: int = 1, retry_after: int | None = None) -> None:
        """The next ``times`` calls of ``method`` ("download" for file downloads) get this error."""
        default = {429: "Too Many Requests: retry after", 403: "Forbidden: bot was blocked by the user",
                   500: "Internal Server Error", 502: "Bad Gateway", 400: "Bad Request"}.get(status, "Error")
        if status == 429 and retry_after is not None and not description:
            description = f"Too Many Requests: retry after {retry_after}"
        for _ in range(times):
            self.faults[method].append(Fault(status, description or default, retry_after))

    def add_file(self, data: bytes, path: str = "photos/file.jpg", *, hold: bool = False) -> str:
        """A file clients "sent"; returns its file_id. ``hold``: its download waits for ``release``."""
        file_id = f"FILE{next(self._file_ids):04d}"
        self.files[file_id] = StoredFile(path.replace("file", file_id.lower(), 1), data, asyncio.Event() if hold else None)
        return file_id

    def release(self, file_id: str) -> None:
        if self.files[file_id].held is not None:
            self.files[file_id].held.set()

    def texts(self, chat_id: str | int | None = None) -> list[str]:
        """The visible text of every sendMessage, in order."""
        return [visible_text(s.text) for s in self.sent
                if s.method == "sendMessage" and (chat_id is None or s.chat_id == str(chat_id))]

    async def wait_until(self, predicate, timeout: float = 10.0, what: str = "") -> None:
        """Wait until ``predicate()`` holds; it is checked whenever a request was answered."""
        async with self._activity:
            try:
                await asyncio.wait_for(self._activity.wait_for(predicate), timeout)
            except asyncio.TimeoutError:
                raise AssertionError(f"the fake Bot API did not see {what or predicate} within {timeout} s "
                                     f"(calls: {self.calls[-20:]})") from None

    async def deliver(self, update: dict, *, secret: str | None = None) -> int:
        """Post an update to the registered webhook, as Telegram does; returns the HTTP status."""
        import aiohttp

        headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook["secret_token"] if secret is None else secret}
        update = dict(update)
        update.setdefault("update_id", next(self._ids))
        async with aiohttp.ClientSession() as session:
            async with session.post(self.webhook["url"], json=update, headers=headers) as response:
                return response.status

    # --- the server ---

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._route(request)
        finally:
            await self._poke()

    async def _poke(self) -> None:
        self.answered_event.set()
        async with self._activity:
            self._activity.notify_all()

    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        match = re.fullmatch(r"/bot([^/]+)/(\w+)", path)
        if match:
            if match.group(1) != self.token:
                self.refused_tokens += 1
                return self._error(Fault(401, "Unauthorized"))
            method = match.group(2)
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                self.unexpected.append(f"{request.method} /bot<token>/{method}")
                return self._error(Fault(404, "Not Found: method not found"))
            params = await self._params(request)
            self.calls.append(method)
            if self.faults[method]:
                return self._error(self.faults[method].popleft())
            try:
                return self._ok(await handler(params))
            except _Conflict:
                return self._error(Fault(409, "Conflict: can't use getUpdates method while webhook is active; "
                                              "use deleteWebhook to delete the webhook first"))
            except _Forbidden:
                return self._error(Fault(403, "Forbidden: bot was blocked by the user"))
            except ValueError as exc:
                return self._error(Fault(400, str(exc)))
        match = re.fullmatch(r"/file/bot([^/]+)/(.+)", path)
        if match and request.method == "GET":
            if match.group(1) != self.token:
                self.refused_tokens += 1
                return web.Response(status=401, text="Unauthorized")
            return await self._download(match.group(2))
        self.unexpected.append(f"{request.method} {path}")
        return web.Response(status=404, text="Not Found")

    async def _params(self, request: web.Request) -> dict:
        if request.content_type == "application/json":
            return await request.json()
        form = await request.post()
        params = {}
        for key, value in form.items():
            params[key] = value if isinstance(value, str) else {"filename": value.filename, "data": value.file.read()}
        return params

    @staticmethod
    def _ok(result) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(fault: Fault) -> web.Response:
        body = {"ok": False, "error_code": fault.status, "description": fault.description}
        if fault.retry_after is not None:
            body["parameters"] = {"retry_after": fault.retry_after}
        return web.json_response(body, status=fault.status)

    def _message(self, chat_id: str, **content) -> dict:
        return {"message_id": next(self._message_ids), "date": 1795500000, "from": {k: BOT[k] for k in ("id", "is_bot", "first_name", "username")},
                "chat": {"id": int(chat_id), "type": "private" if not chat_id.startswith("-") else "supergroup",
                         **({"title": "group"} if chat_id.startswith("-") else {"first_name": "Client"})}, **content}

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
