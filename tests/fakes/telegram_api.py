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
import itertools
import re
from collections import defaultdict, deque

from aiohttp import web

from tests.fakes.telegram_methods import (  # noqa: F401  (re-exported for tests)
    BOT, BotAPIMethods, Fault, Sent, StoredFile, _Conflict, _Forbidden, visible_text,
)

TOKEN = "123456789:AAHfakeTOKENforTESTSabcdefghijklmno"


class FakeBotAPI(BotAPIMethods):
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
