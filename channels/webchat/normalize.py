"""Web chat frames <-> desk values, as pure functions (docs/webchat-protocol.md is the contract).

Everything here is deterministic and free of I/O, so the protocol's edge cases (hostile text,
malformed ids, oversized frames) are tested directly on recorded frames.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from bot.domain import Attachment, ConversationEntry, Direction, InboundMessage, OutboundMessage
from bot.errors import InvalidInput

CHANNEL = "webchat"
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# secrets.token_urlsafe(32) gives 43 characters; longer ones (other issuers) are accepted too.
TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")
LOCALE = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*")
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
# C0 controls except tab and newline, and DEL: PostgreSQL refuses NUL in text outright.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_NAME = 200
MAX_EMAIL = 254
MAX_PAYLOAD = 200
MAX_HAVE = 200  # message ids a hello may list as shown (the widget lists its newest 100)
FRAME_OVERHEAD = 4096  # room for the keys, the id, name and email beside the text


class ProtocolError(InvalidInput):
    """A frame the server refuses; ``code`` is machine-readable, the message is for humans."""

    def __init__(self, code: str, message: str, client_id: str | None = None, *, fatal: bool = False):
        super().__init__(message)
        self.code = code
        self.client_id = client_id
        self.fatal = fatal  # the connection is closed after the error frame


@dataclass(frozen=True)
class Hello:
    token: str | None  # None: the visitor gets a new token
    last_seen: int
    locale: str  # primary language subtag ("de" for "de-DE"), "" when absent or unusable
    # The ids the client shows, from a client that places a late message by its id; None from an
    # older widget, whose resume starts strictly after last_seen.
    have: frozenset[int] | None = None


@dataclass(frozen=True)
class ChatText:
    id: str
    text: str
    name: str = ""
    email: str = ""
    payload: str = ""


@dataclass(frozen=True)
class Typing:
    pass


@dataclass(frozen=True)
class Seen:
    up_to: int


@dataclass(frozen=True)
class Ping:
    pass


Frame = Hello | ChatText | Typing | Seen | Ping


def visitor_key(token: str) -> str:
    """The id the desk knows a visitor by: SHA-256 of the token, so a leaked database grants no access."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def max_frame_chars(max_message_chars: int) -> int:
    """The largest text frame worth parsing: JSON may spell each character as a 12-char surrogate pair."""
    return max_message_chars * 12 + FRAME_OVERHEAD


def clean_text(value: str) -> str:
    """Lone surrogates become U+FFFD and control characters go: what the databases can store."""
    value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def parse_frame(raw: str, max_message_chars: int) -> Frame:
    """One client text frame -> a Frame; raises ProtocolError saying what is wrong."""
    if len(raw) > max_frame_chars(max_message_chars):
        raise ProtocolError("frame_too_large", f"the frame has {len(raw)} characters; messages may have at most "
                                               f"{max_message_chars}")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json", "the frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_json", "a frame must be a JSON object")
    kind = data.get("type")
    if kind == "hello":
        return _hello(data)
    if kind == "message":
        return chat_text(data, max_message_chars)
    if kind == "typing":
        return Typing()
    if kind == "seen":
        return Seen(_count(data, "up_to", required=True))
    if kind == "ping":
        return Ping()
    if not isinstance(kind, str):
        raise ProtocolError("invalid_frame", "the frame has no \"type\"")
    raise ProtocolError("unknown_type", f"unknown frame type {kind[:40]!r}")


def _count(data: dict, key: str, *, required: bool = False) -> int:
    value = data.get(key)
    if value is None and not required:
        return 0
    # bool is an int in Python, never in the protocol
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2 ** 63:
        raise ProtocolError("invalid_frame", f"\"{key}\" must be a whole number from 0")
    return value


def _hello(data: dict) -> Hello:
    token = data.get("token")
    if not (isinstance(token, str) and TOKEN.fullmatch(token)):
        token = None  # absent or malformed: the visitor starts a new conversation
    return Hello(token, _count(data, "last_seen"), locale_of(data.get("locale")), _have(data))


def _have(data: dict) -> frozenset[int] | None:
    value = data.get("have")
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_HAVE:
        raise ProtocolError("invalid_frame", f"\"have\" must be a list of at most {MAX_HAVE} message ids")
    return frozenset(_count({"have": item}, "have", required=True) for item in value)


def locale_of(value: object) -> str:
    """The language part of a BCP 47 tag ("de-DE" -> "de"), which is what the desk stores."""
    if isinstance(value, str) and len(value) <= 35:
        match = LOCALE.fullmatch(value.strip())
        if match:
            return match.group(1).lower()
    return ""


def _optional_str(data: dict, key: str, limit: int, client_id: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProtocolError("invalid_frame", f"\"{key}\" must be a string", client_id)
    value = " ".join(clean_text(value).split())
    if len(value) > limit:
        raise ProtocolError("invalid_frame", f"\"{key}\" may have at most {limit} characters", client_id)
    return value


def chat_text(data: dict, max_message_chars: int, *, allow_empty: bool = False) -> ChatText:
    """Validate a message frame (or the fields of an upload); ``allow_empty`` when a file comes along."""
    client_id = data.get("id")
    if not (isinstance(client_id, str) and CLIENT_ID.fullmatch(client_id)):
        raise ProtocolError("invalid_frame", "\"id\" must be 1-64 letters, digits, '-' or '_'")
    text = data.get("text", "")
    if not isinstance(text, str):
        raise ProtocolError("invalid_frame", "\"text\" must be a string", client_id)
    text = clean_text(text).strip()
    if not text and not allow_empty:
        raise ProtocolError("empty_message", "the message is empty", client_id)
    if len(text) > max_message_chars:
        raise ProtocolError("message_too_long", f"the message has {len(text)} characters; the limit is "
                                                f"{max_message_chars}", client_id)
    email = _optional_str(data, "email", MAX_EMAIL, client_id)
    if email and not EMAIL.fullmatch(email):
        raise ProtocolError("invalid_frame", "\"email\" does not look like an email address", client_id)
    return ChatText(client_id, text, _optional_str(data, "name", MAX_NAME, client_id), email,
                    _optional_str(data, "payload", MAX_PAYLOAD, client_id))


def to_inbound(message: ChatText, visitor: str, locale: str, now: datetime,
               attachments: tuple[Attachment, ...] = ()) -> InboundMessage:
    """The desk's view of a visitor's message; the client id, scoped by visitor, is the dedup key."""
    return InboundMessage(
        channel=CHANNEL, user_id=visitor, chat_id=visitor, message_id=f"{visitor}:{message.id}",
        text=message.text, sent_at=now, attachments=attachments, user_name=message.name,
        claimed_email=message.email, locale_hint=locale, button_payload=message.payload)


def _iso(moment: datetime | None) -> str:
    moment = moment or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # stored times are UTC
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _files(attachments: tuple[Attachment, ...]) -> list[dict]:
    return [{"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in attachments if a.id is not None]


def entry_frame(entry: ConversationEntry, visitor: str) -> dict:
    """A stored message as the visitor's widget shows it; their own carry the client id they chose."""
    prefix = f"{visitor}:"
    own = entry.direction is Direction.INBOUND and entry.external_id.startswith(prefix)
    frame = {"type": "message", "message_id": entry.id,
             "client_id": entry.external_id[len(prefix):] if own else None,
             "author": entry.author_kind.value, "author_name": entry.author_name, "text": entry.text,
             "created_at": _iso(entry.created_at), "attachments": _files(entry.attachments)}
    if entry.choices:
        frame["choices"] = list(entry.choices)  # so the buttons survive a reload
    return frame


def outbound_frame(message: OutboundMessage) -> dict:
    """A reply the outbox hands over, as a message frame (choices are offered as quick replies)."""
    return {"type": "message", "message_id": message.message_id, "client_id": None,
            "author": message.author_kind.value, "author_name": message.author_name, "text": message.text,
            "created_at": _iso(message.created_at), "attachments": _files(message.attachments),
            "choices": list(message.choices)}


def error_frame(code: str, message: str, client_id: str | None = None, **extra) -> dict:
    frame = {"type": "error", "code": code, "message": message}
    if client_id is not None:
        frame["id"] = client_id
    frame.update(extra)
    return frame
