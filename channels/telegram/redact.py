"""Keep bot tokens out of every log line and every error text the desk stores.

The Bot API puts the token in each request's URL (``/bot<token>/<method>``, ``/file/bot<token>/...``),
and aiohttp's errors quote that URL, so any logger (ours, aiogram's, aiohttp's, a caught
exception's traceback) could print it. A log record factory rewrites records as they are made,
whatever handler later writes them.
"""
from __future__ import annotations

import logging
import threading

MASK = "<bot-token>"
_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False


def redact(text: str) -> str:
    """``text`` with every registered token (and its secret half, which survives URL-encoding) masked."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def protect(token: str) -> None:
    """Mask this token in every log record from now on (installs the record factory once)."""
    global _installed
    with _lock:
        _secrets.add(token)
        _, _, secret = token.partition(":")
        if secret:
            _secrets.add(secret)
        if not _installed:
            previous = logging.getLogRecordFactory()

            def factory(*args, **kwargs) -> logging.LogRecord:
                return _scrub(previous(*args, **kwargs))

            logging.setLogRecordFactory(factory)
            _installed = True


def _scrub(record: logging.LogRecord) -> logging.LogRecord:
    if not _secrets:
        return record
    try:
        message = record.getMessage()
    except Exception:  # a bad format string is the handler's to report, as without us
        return record
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        clean = redact(text)
        if clean != text:
            record.exc_text = clean  # formatters use exc_text as it is when it is set
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record
