"""Parse untrusted MIME bytes with bounds: the structure, part types and payloads, never raising.

The standard library's parser does the parsing under policy.compat32: headers stay the raw
strings received, and headers.py decodes the few the desk reads. policy.default would build a
header object (a full RFC 5322 parse) on every lookup, and the parser itself looks up each part's
Content-Type several times: that was most of the cost of a mail. What can still go wrong on
hostile input (deep nesting exhausting the recursion limit, broken transfer encodings) is caught
here and answered with a safe fallback.
"""
from __future__ import annotations

import email
import email.parser
import email.policy
from email.message import Message

from channels.email import headers

# Lines starting "--" are boundary candidates: far more than any real mail means a part bomb.
MAX_BOUNDARY_LINES = 4000


def parse(raw: bytes) -> tuple[Message, str]:
    """(message, problem): the parsed message, or only its headers with a reason the body was not parsed."""
    if raw.count(b"\n--") > MAX_BOUNDARY_LINES:
        return _headers_only(raw), "it has too many parts"
    try:
        return email.message_from_bytes(raw, policy=email.policy.compat32), ""
    except RecursionError:
        return _headers_only(raw), "its parts are nested too deeply"
    except Exception as exc:  # the parser is lenient; this is a last resort
        return _headers_only(raw), f"it could not be parsed ({type(exc).__name__})"


def _headers_only(raw: bytes) -> Message:
    try:
        return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    except Exception:
        return Message()


def body_bytes(raw: bytes) -> bytes:
    """Everything after the header block."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = raw.find(sep)
        if at >= 0:
            return raw[at + len(sep):]
    return b""


def content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except Exception:
        return ""
    if isinstance(value, tuple):  # RFC 2231: (charset, language, value)
        try:
            value = email.utils.collapse_rfc2231_value(value)
        except Exception:
            value = value[2] if len(value) > 2 else ""
    return headers.clean(str(value or ""))


def filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    if not name:
        name = param(part, "name")
    return headers.decode_words(str(name))


def is_attachment(part: Message) -> bool:
    try:
        disposition = (part.get_content_disposition() or "").lower()
    except Exception:
        disposition = ""
    return disposition == "attachment" or (disposition != "inline" and bool(filename(part)))


def children(part: Message) -> list[Message]:
    try:
        payload = part.get_payload()
    except Exception:
        return []
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def payload(part: Message) -> bytes:
    """The decoded bytes of a leaf part (base64 / quoted-printable undone; broken encodings best-effort)."""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    try:
        raw = part.get_payload()
    except Exception:
        return b""
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def as_bytes(part: Message) -> bytes:
    try:
        return part.as_bytes(policy=email.policy.default.clone(linesep="\r\n"))
    except Exception:
        try:
            return part.as_bytes(policy=email.policy.compat32)
        except Exception:
            return b""
