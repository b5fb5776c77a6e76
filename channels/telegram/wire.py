"""Plain JSON calls to the Bot API for the hot methods (sendMessage, getUpdates).

aiogram builds a pydantic method object, dumps it into multipart form data and validates the
answer as a pydantic Response for every call: about four fifths of the CPU the desk spent sending
a message. The Bot API takes a JSON body just as well (core.telegram.org/bots/api#making-requests),
so these calls post the parameters as JSON on aiogram's own aiohttp session and sort the answer
into the same errors aiogram's would have become.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from channels.telegram.errors import Blocked, Conflict, RateLimited, Refused, TokenRejected, Unreachable
from channels.telegram.redact import redact


def _error(status: int, answer: dict) -> Exception:
    """The Bot API's error answer (status, description, parameters.retry_after) as one of ours."""
    description = redact(str(answer.get("description") or f"HTTP {status}"))
    text = f"Telegram server says - {description}"
    parameters = answer.get("parameters") if isinstance(answer.get("parameters"), dict) else {}
    retry_after = parameters.get("retry_after")
    if isinstance(retry_after, (int, float)) and not isinstance(retry_after, bool):
        return RateLimited(text, float(retry_after))
    if status in (401, 404):
        return TokenRejected(text)
    if status == 403:
        return Blocked(text)
    if status == 409:
        return Conflict(text)
    if status >= 500:
        return Unreachable(text)
    if status == 429 or "Too Many Requests" in description:
        return RateLimited(text, 1.0)  # a 429 without retry_after: wait a little
    return Refused(text)


async def call(session: aiohttp.ClientSession, url: str, params: dict[str, Any], timeout: float) -> Any:
    """POST ``params`` as JSON to ``url`` (a method's URL); the answer's result, or one of our errors."""
    try:
        async with session.post(url, json=params, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            status, body = response.status, await response.read()
    except asyncio.TimeoutError:
        raise Unreachable("Request timeout error") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise Unreachable(redact(f"{type(exc).__name__}: {exc}")) from None
    try:
        answer = json.loads(body)
    except ValueError:
        raise Unreachable(f"Failed to decode the answer (HTTP {status})") from None
    if not isinstance(answer, dict):
        raise Unreachable(f"Failed to decode the answer (HTTP {status})")
    if 200 <= status < 300 and answer.get("ok") is True:
        return answer.get("result")
    raise _error(status, answer)
