"""A raw email (bytes) -> one InboundMessage, and a bounce -> a DeliveryReport: pure, never raising.

Tested on the .eml corpus in tests/fixtures/email/. Threading comes from the headers (RFC 5322:
Message-ID, In-Reply-To, References) and the ticket tag in the subject ("[#1042]"); what the
desk does with them is bot/actions/threads.py's business.
"""
from __future__ import annotations

import email.utils
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import Message

from bot.domain import Attachment, DeliveryReport, InboundMessage, safe_filename
from channels.email import bounces, headers, html, mime, noise
from channels.email.charsets import decode
from channels.email.quotes import fold

CHANNEL = "email"
SYNTHETIC_DOMAIN = "helpline.invalid"  # ids we made up for mail without a Message-ID (RFC 2606 name)
UNKNOWN_SENDER = f"unknown@{SYNTHETIC_DOMAIN}"
TICKET_TAG = re.compile(r"\[#(\d{1,15})\]")
REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|ответ|отв|на|tr|antw|odp|vá|vs)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
MAX_TEXT = 100_000


@dataclass(frozen=True)
class Limits:
    """What a mail may bring along; beyond these, parts are left out (and said so) but the original is kept."""

    max_attachment_bytes: int = 10 * 1024 * 1024
    allowed_types: tuple[str, ...] = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")
    max_attachments: int = 30
    max_parts: int = 300
    max_depth: int = 12


@dataclass(frozen=True)
class Mail:
    """A normalized mail: the message to store, and a bounce's report when it is one."""

    message: InboundMessage
    sender: str
    automated_reason: str = ""
    report: DeliveryReport | None = None


@dataclass
class _Walk:
    limits: Limits
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    statuses: list[Message] = field(default_factory=list)
    returned: list[Message] = field(default_factory=list)
    parts: int = 0
    truncated: str = ""


def normalize(raw: bytes, *, limits: Limits = Limits(), queue: str = "", envelope_from: str | None = None,
              received_at: datetime | None = None, note: str = "") -> Mail:
    """Everything the desk stores of one mail. ``envelope_from`` is SMTP's MAIL FROM ("" for a bounce's <>)."""
    received_at = received_at or datetime.now(timezone.utc)
    msg, problem = mime.parse(raw)
    subject = headers.text(msg, "Subject")
    name, sender = headers.address(msg, "From", "Sender")
    reply_name, reply_to = headers.address(msg, "Reply-To")
    if reply_to and (not sender or noise.NO_REPLY.match(sender)):
        # Contact forms send from a no-reply address on behalf of the person in Reply-To.
        name, sender = reply_name or name, reply_to
    sender = sender or (envelope_from or "").lower() or UNKNOWN_SENDER

    walk = _Walk(limits)
    if problem:
        walk.plain.append(decode(mime.body_bytes(raw)[:MAX_TEXT * 4]))
        walk.truncated = f"This email was stored as raw text: {problem}. The original is kept as received."
    else:
        _collect(msg, 0, walk, top=True)
    body = "\n\n".join(t for t in (walk.plain or [html.to_text(h) for h in walk.html]) if t.strip())
    body = headers.CONTROL.sub("", body.replace("\r\n", "\n").replace("\r", "\n"))
    text, folded = fold(body[:MAX_TEXT - 5000])  # room for the notes below, which must not be cut off
    notes = [n for n in (walk.truncated, note) if n] + [f"Not kept: {item}" for item in walk.left_out]
    text = "\n\n".join(p for p in [text or (_bare_subject(subject) if not walk.attachments else "")] + notes if p)
    text = text or "(empty email)"

    message_id = _first(headers.message_ids(headers.raw_header(msg, "Message-ID"))) or synthetic_id(msg, raw)
    reason = noise.automated_reason(msg, sender, envelope_from, subject)
    inbound = InboundMessage(
        channel=CHANNEL, user_id=sender, chat_id=sender, message_id=message_id, text=text[:MAX_TEXT],
        sent_at=_sent_at(msg, received_at), attachments=tuple(walk.attachments), user_name=name,
        locale_hint=_language(msg), thread_hint=_first(headers.message_ids(headers.raw_header(msg, "In-Reply-To"))),
        references=references(msg), ticket_number=ticket_number(subject), explicit_threads=True,
        subject=_bare_subject(subject), queue_hint=queue, automated=bool(reason), folded_text=folded[:MAX_TEXT],
        html=html.sanitize(walk.html[0]) if walk.html else "", raw=raw,
    )
    report = bounces.report(msg, walk.statuses, walk.returned, inbound, raw) if reason else None
    return Mail(inbound, sender, reason, report)


def _collect(part: Message, depth: int, walk: _Walk, top: bool = False, report: bool = False) -> None:
    walk.parts += 1
    if walk.parts > walk.limits.max_parts:
        walk.truncated = walk.truncated or f"This email has more than {walk.limits.max_parts} parts; the rest were left out."
        return
    ctype = mime.content_type(part)
    if ctype.startswith("multipart/"):
        if depth >= walk.limits.max_depth:
            walk.truncated = "This email's parts are nested too deeply; the inner ones were left out."
            return
        kids = mime.children(part)
        if not kids:  # a multipart without a usable boundary: its body is all there is
            walk.plain.append(decode(mime.payload(part), mime.param(part, "charset")))
            return
        if ctype == "multipart/alternative":
            kids = _alternatives(kids)
        for kid in kids:
            _collect(kid, depth + 1, walk, report=report or ctype == "multipart/report")
        return
    if ctype == "message/delivery-status":
        walk.statuses += mime.children(part) or [part]
        return
    if ctype in ("message/rfc822", "text/rfc822-headers") and report:
        walk.returned += mime.children(part) or [mime.parse(mime.payload(part))[0]]
        return
    if ctype == "message/rfc822" and top:
        for kid in mime.children(part):  # a forward as the whole mail (some mailers send only that)
            _collect(kid, depth + 1, walk, top=True)
        return
    if ctype in ("text/plain", "text/html") and not mime.is_attachment(part):
        text = decode(mime.payload(part), mime.param(part, "charset"))
        (walk.plain if ctype == "text/plain" else walk.html).append(text)
        return
    _attach(part, ctype, walk)


def _alternatives(kids: list[Message]) -> list[Message]:
    """Of alternative renderings keep the plain text (and the HTML for the original's view)."""
    types = [mime.content_type(k) for k in kids]
    if "text/plain" in types:
        plain = kids[types.index("text/plain")]
        rich = [k for k, t in zip(kids, types) if t == "text/html" or t.startswith("multipart/")]
        return [plain] + rich[-1:] if rich and mime.content_type(rich[-1]) == "text/html" else [plain]
    return kids[-1:] if kids else []


def _attach(part: Message, ctype: str, walk: _Walk) -> None:
    limits = walk.limits
    data = mime.as_bytes(mime.children(part)[0]) if ctype == "message/rfc822" and mime.children(part) else mime.payload(part)
    name = mime.filename(part)
    if ctype == "application/octet-stream" and name:
        ctype = (mimetypes.guess_type(name, strict=False)[0] or ctype).lower()
    if not name:
        name = f"attachment-{len(walk.attachments) + 1}{mimetypes.guess_extension(ctype) or '.bin'}"
        if ctype == "message/rfc822":
            name = f"forwarded-{len(walk.attachments) + 1}.eml"
    name = safe_filename(name)
    size = len(data)
    if not data:
        return
    if ctype not in limits.allowed_types:
        walk.left_out.append(f"{name} ({ctype}, {_size(size)}): this type of file is not accepted.")
    elif size > limits.max_attachment_bytes:
        walk.left_out.append(f"{name} ({_size(size)}): larger than {_size(limits.max_attachment_bytes)}.")
    elif len(walk.attachments) >= limits.max_attachments:
        walk.left_out.append(f"{name}: more than {limits.max_attachments} files in one email.")
    else:
        walk.attachments.append(Attachment(name, ctype, size, data=data))


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


def _first(items: list[str]) -> str:
    return items[0] if items else ""


def references(msg: Message) -> tuple[str, ...]:
    """Ids this mail answers, nearest first: In-Reply-To, then References from the last."""
    ids = headers.message_ids(headers.raw_header(msg, "In-Reply-To"))
    ids += list(reversed(headers.message_ids(headers.raw_header(msg, "References"))))
    return tuple(dict.fromkeys(ids))[:50]


def ticket_number(subject: str) -> int | None:
    """The ticket number in a subject tag like "[#1042]" (the last one: replies prepend)."""
    found = TICKET_TAG.findall(subject)
    return int(found[-1]) if found else None


def _bare_subject(subject: str) -> str:
    """A subject without reply prefixes and ticket tags: the ticket's title."""
    bare = TICKET_TAG.sub("", REPLY_PREFIX.sub("", subject))
    return " ".join(bare.split())[:300]


def synthetic_id(msg: Message, raw: bytes) -> str:
    """A stable id for mail without a Message-ID: the same mail (by headers and body) always gets the same one."""
    digest = hashlib.sha256()
    for name in ("From", "To", "Cc", "Date", "Subject"):
        digest.update(headers.raw_header(msg, name).encode("utf-8", "surrogateescape") + b"\0")
    digest.update(mime.body_bytes(raw))
    return f"{digest.hexdigest()[:40]}@{SYNTHETIC_DOMAIN}"


def _sent_at(msg: Message, received_at: datetime) -> datetime:
    try:
        sent = email.utils.parsedate_to_datetime(headers.text(msg, "Date"))
    except Exception:
        return received_at
    if sent is None:
        return received_at
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=timezone.utc)
    sent = sent.astimezone(timezone.utc)
    # A clock far off (or a forged date) is not believed.
    if abs(sent - received_at) > timedelta(days=365 * 5):
        return received_at
    return sent


def _language(msg: Message) -> str:
    value = headers.text(msg, "Content-Language").split(",")[0].strip().lower()
    primary = re.split(r"[-_]", value)[0] if value else ""
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else ""
