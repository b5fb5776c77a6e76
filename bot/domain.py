"""Boundary value types shared by the desk and its channels (no I/O, no storage)."""
from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime


class TicketStatus(str, enum.Enum):
    NEW = "new"
    OPEN = "open"
    WAITING = "waiting"  # waiting for the client
    RESOLVED = "resolved"
    CLOSED = "closed"


class AuthorKind(str, enum.Enum):
    CLIENT = "client"
    BOT = "bot"
    OPERATOR = "operator"
    SYSTEM = "system"


class Direction(str, enum.Enum):
    INBOUND = "in"
    OUTBOUND = "out"


class DeliveryStatus(str, enum.Enum):
    RECEIVED = "received"  # inbound, committed
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


class Role(str, enum.Enum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    ADMIN = "admin"


class Priority(str, enum.Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


@dataclass(frozen=True)
class Attachment:
    """A file that came with a message (``data``) or is stored in the desk (``storage_key``)."""

    filename: str
    content_type: str
    size: int
    data: bytes | None = None
    storage_key: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One client message as a channel adapter normalized it.

    ``message_id`` is the de-duplication key and must be unique within ``channel`` (the configured
    channel instance: one bot, one mailbox, the web chat).
    """

    channel: str
    user_id: str
    chat_id: str
    message_id: str
    text: str
    sent_at: datetime
    attachments: tuple[Attachment, ...] = ()
    user_name: str = ""
    claimed_email: str = ""  # typed by the client: a claim, never a proof of identity
    locale_hint: str = ""
    thread_hint: str = ""  # reply-to id, email References, ticket number
    button_payload: str = ""
    source: str = ""  # kept on a ticket this message opens (a deep-link payload, a campaign tag)
    edited: bool = False  # a new version of the message with this message_id: update it, add nothing
    # Channels whose clients say which message they answer (email) thread by these, not by chat:
    references: tuple[str, ...] = ()  # channel ids of earlier messages this one answers, nearest first
    ticket_number: int | None = None  # a ticket number the client quoted (e.g. "[#1042]" in a subject)
    explicit_threads: bool = False  # join a ticket only by references or ticket number, never by chat alone
    subject: str = ""  # the subject of a ticket this message opens ("": the start of the text)
    queue_hint: str = ""  # the queue a ticket this message opens starts in (e.g. a mailbox's queue)
    automated: bool = False  # an auto-reply, bounce or bulk mail: stored, never answered, never reopens
    folded_text: str = ""  # quoted earlier messages and the signature, shown folded away
    html: str = ""  # a sanitized HTML rendering of the message, shown with the original
    raw: bytes = b""  # the original as received, kept so it stays viewable


@dataclass(frozen=True)
class Receipt:
    """What the inbox committed for an inbound message; the adapter acknowledges after this."""

    message_id: int
    ticket_id: int
    ticket_public_id: str
    ticket_number: int
    duplicate: bool = False
    new_ticket: bool = False
    edited: bool = False


@dataclass(frozen=True)
class OutboundMessage:
    """One message the desk sends to a client through the channel it came from."""

    channel: str
    chat_id: str
    text: str
    message_id: int  # the desk's id of the stored message
    ticket_public_id: str
    author_kind: AuthorKind = AuthorKind.OPERATOR
    author_name: str = ""
    attachments: tuple[Attachment, ...] = ()
    reply_to: str = ""  # the platform id of the message this answers, where the channel threads
    choices: tuple[str, ...] = ()
    created_at: datetime | None = None
    references: tuple[str, ...] = ()  # platform ids of the ticket's earlier messages, oldest first
    subject: str = ""  # the ticket's subject
    ticket_number: int = 0
    sender_name: str = ""  # the name the desk sends as (the ticket queue's title)


@dataclass(frozen=True)
class DeliveryReport:
    """A channel's word that one of our sent messages did not reach the client (an email bounce)."""

    channel: str
    report_id: str  # the report's own id on the channel (the de-duplication key)
    original_id: str  # the platform id of our message, as send() returned it
    reason: str  # what the operator is shown
    text: str = ""
    raw: bytes = b""


@dataclass(frozen=True)
class ConversationEntry:
    """One message of a client's conversation as the client may see it (no internal notes)."""

    id: int
    direction: Direction
    author_kind: AuthorKind
    author_name: str
    text: str
    created_at: datetime
    external_id: str = ""  # the channel's id of an inbound message (the web chat's client id)
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    choices: tuple[str, ...] = ()  # quick replies offered with a bot message (shown again on resume)


_UNSAFE = re.compile(r"[^\w.\- ()\[\]]+", re.UNICODE)


def safe_filename(name: str, fallback: str = "attachment") -> str:
    """A file name with no path, control characters or leading dots, at most 120 characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" ._")
    if not name:
        return fallback
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 110] + dot + ext[:9]) if dot and len(ext) < 10 else name[:120]
    return name
