"""Files over HTTP: POST /chat/upload and GET /chat/attachments/{id}, both keyed by the visitor token.

The token travels in the X-Visitor-Token header, never in a URL (URLs end up in logs and
histories). A custom header also means a browser cannot send these requests from another site
without a CORS preflight, which the desk never grants.
"""
from __future__ import annotations

import logging
import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from aiohttp import BodyPartReader, web

from bot.domain import Attachment
from bot.errors import InvalidInput
from bot.web import download_response
from channels.webchat.files import sniff, upload_name
from channels.webchat.normalize import (
    CHANNEL, TOKEN, ProtocolError, chat_text, error_frame, locale_of, max_frame_chars, to_inbound, visitor_key,
)

if TYPE_CHECKING:
    from channels.webchat.adapter import WebchatChannel

logger = logging.getLogger(__name__)
TOKEN_HEADER = "X-Visitor-Token"
FIELDS = ("id", "text", "name", "email", "locale")


class UploadRefused(Exception):
    def __init__(self, status: int, code: str, message: str, client_id: str | None = None, **extra):
        super().__init__(message)
        self.status, self.code, self.client_id, self.extra = status, code, client_id, extra


def _error(status: int, code: str, message: str, client_id: str | None = None, **extra) -> web.Response:
    response = web.json_response(error_frame(code, message, client_id, **extra), status=status)
    response.headers["Cache-Control"] = "no-store"
    if "retry_after" in extra:
        response.headers["Retry-After"] = str(extra["retry_after"])
    return response


def visitor_of(request: web.Request) -> str | None:
    token = request.headers.get(TOKEN_HEADER, "")
    return visitor_key(token) if TOKEN.fullmatch(token) else None


async def _read(part: BodyPartReader, limit: int) -> bytes | None:
    """A part's bytes, or None as soon as it passes ``limit`` (the rest is never buffered)."""
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


async def _form(chat: WebchatChannel, request: web.Request) -> tuple[dict[str, str], str, bytes]:
    """The upload's fields and its one file, each read within its limit."""
    try:
        return await _parts(chat, await request.multipart())
    except (AssertionError, ValueError, KeyError):
        raise UploadRefused(400, "invalid_frame", "send multipart/form-data with the fields id, text and file") from None


async def _parts(chat: WebchatChannel, reader) -> tuple[dict[str, str], str, bytes]:
    fields: dict[str, str] = {}
    filename, data = "", None
    field_limit = max_frame_chars(chat.settings.max_message_chars)
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise UploadRefused(400, "invalid_frame", "nested multipart bodies are not accepted")
        if part.name == "file" and data is None:
            filename = part.filename or ""
            data = await _read(part, chat.settings.max_attachment_bytes)
            if data is None:
                raise UploadRefused(413, "file_too_large", f"files may have at most {chat.settings.max_attachment_bytes} "
                                    "bytes", fields.get("id"))
        elif part.name in FIELDS and part.name not in fields:
            raw = await _read(part, field_limit)
            if raw is None:
                raise UploadRefused(413, "message_too_long", f"the field {part.name} is too long", fields.get("id"))
            fields[part.name] = raw.decode("utf-8", "replace")
        else:
            raise UploadRefused(400, "invalid_frame", f"unexpected form field {str(part.name)[:40]!r}", fields.get("id"))
    if data is None:
        raise UploadRefused(400, "missing_file", "the upload has no file", fields.get("id"))
    return fields, filename, data


async def upload(chat: WebchatChannel, request: web.Request) -> web.Response:
    """POST /chat/upload: store a message with one image or PDF; answers with the ack frame."""
    visitor = visitor_of(request)
    if visitor is None:
        return _error(401, "bad_token", f"send the visitor token in the {TOKEN_HEADER} header")
    wait = chat.rates.acquire(visitor)  # before reading the body: a flood of uploads costs nothing
    if wait:
        return _error(429, "rate_limited", f"too many messages: at most {chat.rates.limit} a minute",
                      retry_after=math.ceil(wait))
    client_id = None
    try:
        fields, filename, data = await _form(chat, request)
        message = chat_text(fields, chat.settings.max_message_chars, allow_empty=True)
        client_id = message.id
        content_type = sniff(data[:16])
        if content_type is None:
            raise UploadRefused(415, "unsupported_file", "only PNG, JPEG, GIF and WebP images and PDF files are accepted",
                                message.id)
        name = upload_name(filename, content_type)
        try:
            chat.desk.check_attachment(name, content_type, len(data))
        except InvalidInput as exc:
            raise UploadRefused(422, "file_refused", str(exc), message.id) from None
        inbound = to_inbound(message, visitor, locale_of(fields.get("locale")), datetime.now(timezone.utc),
                             (Attachment(name, content_type, len(data), data=data),))
        receipt = await chat.desk.receive(inbound)
    except ProtocolError as exc:
        return _error(413 if exc.code == "message_too_long" else 400, exc.code, str(exc), exc.client_id)
    except UploadRefused as exc:
        return _error(exc.status, exc.code, str(exc), exc.client_id, **exc.extra)
    except InvalidInput as exc:
        return _error(422, "not_accepted", str(exc), client_id)
    except Exception:
        logger.exception("storing a web chat upload failed")
        return _error(503, "unavailable", "the file could not be stored yet; try again shortly", client_id, retry_after=5)
    # Committed: let every open socket of this visitor show the stored message, then acknowledge.
    try:
        await chat.catch_up(visitor)
    except Exception:  # the sockets resume on their own; the upload itself succeeded
        logger.exception("pushing an uploaded web chat message failed")
    return web.json_response({"type": "ack", "id": message.id, "message_id": receipt.message_id,
                              "ticket": receipt.ticket_number}, headers={"Cache-Control": "no-store"})


async def download(chat: WebchatChannel, request: web.Request) -> web.Response:
    """GET /chat/attachments/{id}: a file of the visitor's own conversation, always as a download."""
    visitor = visitor_of(request)
    if visitor is None:
        return _error(401, "bad_token", f"send the visitor token in the {TOKEN_HEADER} header")
    found = await chat.desk.attachment(CHANNEL, visitor, int(request.match_info["id"]))
    if found is None:
        # Someone else's file and a file that does not exist look the same.
        return _error(404, "not_found", "there is no such file in this conversation")
    meta, data = found
    return download_response(data, meta.filename)
