"""An OutboundMessage -> a MIME reply: plain text and HTML from templates/email/, threaded, with files.

Threading follows RFC 5322 section 3.6.4: In-Reply-To names the client's latest message, References
the thread; the subject carries the ticket tag ("[#1042]") so a reply threads back even through
mailers that drop those headers. Mail the bot writes says ``Auto-Submitted: auto-replied``
(RFC 3834) so other robots do not answer it.
"""
from __future__ import annotations

import hashlib
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timezone

import jinja2
from markupsafe import Markup, escape

from bot.domain import Attachment, AuthorKind, OutboundMessage
from bot.web import TEMPLATES
from channels.email.normalize import REPLY_PREFIX, SYNTHETIC_DOMAIN, TICKET_TAG

CHOOSE_HINT = "Reply with the number of your choice."
WEB_ADDRESS = re.compile(r"https?://[^\s<>\"']+")
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES / "email"),
    autoescape=jinja2.select_autoescape(("html",), default_for_string=False),
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
)


def linkify(line: str) -> Markup:
    """A line of our text for the HTML part: escaped, its web addresses (survey links) made clickable."""
    pieces, last = [], 0
    for found in WEB_ADDRESS.finditer(line):
        address = found.group().rstrip(".,;:!?)")  # sentence punctuation after an address is not part of it
        pieces += [escape(line[last:found.start()]), Markup('<a href="{0}">{0}</a>').format(address)]
        last = found.start() + len(address)
    pieces.append(escape(line[last:]))
    return Markup("").join(pieces)


_templates.filters["linkify"] = linkify


def message_id_for(message: OutboundMessage, domain: str) -> str:
    """Our Message-ID for a stored message: the same on every retry, unguessable without the ticket's secret id."""
    digest = hashlib.sha256(f"{message.ticket_public_id}:{message.message_id}".encode()).hexdigest()[:24]
    return f"hl.{message.message_id}.{digest}@{domain}"


def reply_subject(subject: str, number: int) -> str:
    """"Re: <subject> [#N]", with earlier prefixes and tags taken off first."""
    bare = " ".join(TICKET_TAG.sub("", REPLY_PREFIX.sub("", subject or "")).split())
    bare = bare[:200] or "Your request"
    return f"Re: {bare} [#{number}]" if number else f"Re: {bare}"


def _angle(ids) -> list[str]:
    return [f"<{i}>" for i in ids if i and not i.endswith("@" + SYNTHETIC_DOMAIN) and re.fullmatch(r"[^<>\s]+", i)]


def compose(message: OutboundMessage, *, from_address: str, desk_name: str, files: list[tuple[Attachment, bytes]],
            now: datetime | None = None) -> tuple[EmailMessage, str]:
    """(the reply, its Message-ID without brackets)."""
    domain = from_address.rpartition("@")[2]
    message_id = message_id_for(message, domain)
    sender_name = message.sender_name or desk_name
    mail = EmailMessage()
    mail["From"] = Address(display_name=sender_name[:100], addr_spec=from_address)
    mail["To"] = message.chat_id
    mail["Subject"] = reply_subject(message.subject, message.ticket_number)
    mail["Date"] = format_datetime(now or datetime.now(timezone.utc))
    mail["Message-ID"] = f"<{message_id}>"
    in_reply_to = _angle([message.reply_to])
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to[0]
    references = _angle(message.references)
    if references:
        mail["References"] = " ".join(references)
    if message.author_kind in (AuthorKind.BOT, AuthorKind.SYSTEM):
        mail["Auto-Submitted"] = "auto-replied"
        mail["X-Auto-Response-Suppress"] = "All"
    context = {"text": message.text, "choices": list(message.choices), "choose_hint": CHOOSE_HINT,
               "sender_name": sender_name, "number": message.ticket_number, "subject": mail["Subject"],
               "language": "", "paragraphs": _paragraphs(message.text)}
    mail.set_content(_templates.get_template("reply.txt").render(context))
    mail.add_alternative(_templates.get_template("reply.html").render(context), subtype="html")
    for attachment, data in files:
        maintype, _, subtype = (attachment.content_type or "application/octet-stream").partition("/")
        mail.add_attachment(data, maintype=maintype or "application", subtype=subtype or "octet-stream",
                            filename=attachment.filename)
    return mail, message_id


def _paragraphs(text: str) -> list[list[str]]:
    return [block.split("\n") for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]
