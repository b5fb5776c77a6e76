"""Webhook mode: Telegram posts each update to the desk's own web server.

The path is named after the bot, never after its token. A post counts only with the secret
given to setWebhook in ``X-Telegram-Bot-Api-Secret-Token`` (compared in constant time). The
answer is 200 only after the update is committed; any other answer makes Telegram post it
again later, and the inbox's de-duplication stores it once.
"""
from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web

from channels.telegram.pipeline import Pipeline

logger = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1024 * 1024  # updates are small JSON objects; files are fetched separately


class WebhookEndpoint:
    def __init__(self, channel: str, secret: str, pipeline: Pipeline):
        self.channel = channel
        self.secret = secret.encode("utf-8")
        self.pipeline = pipeline

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, self.secret):
            logger.warning("%s: webhook post from %s without the right secret refused", self.channel, request.remote)
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        if request.content_length is not None and request.content_length > MAX_UPDATE_BYTES:
            return web.json_response({"ok": False, "error": "too large"}, status=413)
        body = await request.content.read(MAX_UPDATE_BYTES + 1)
        if len(body) > MAX_UPDATE_BYTES:
            return web.json_response({"ok": False, "error": "too large"}, status=413)
        try:
            update = json.loads(body)
        except (ValueError, RecursionError):  # deep nesting fits well under the size limit
            return web.json_response({"ok": False, "error": "not JSON"}, status=400)
        try:
            await self.pipeline.handle(update)
        except Exception:
            logger.exception("%s: webhook update could not be stored; Telegram will post it again", self.channel)
            return web.json_response({"ok": False, "error": "not stored, try again"}, status=500)
        return web.json_response({"ok": True})
