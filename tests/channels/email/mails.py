"""Raw mails for tests, built the way a mail client writes them."""
from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timezone

from tests.channels.email.conftest import SUPPORT


def mail(sender: str, subject: str, message_id: str, body: str = "Hello", *, in_reply_to: str = "",
         references: str = "", to: str = SUPPORT, **headers: str) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = format_datetime(datetime.now(timezone.utc))
    m["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        m["In-Reply-To"] = in_reply_to
    if references:
        m["References"] = references
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content(body)
    return m.as_bytes()


def reply_to(sent: bytes, sender: str, message_id: str, body: str = "Thanks!", **headers: str) -> bytes:
    """The client's reply to a mail the desk sent: In-Reply-To, References and the subject as mailers set them."""
    from email import message_from_bytes, policy

    original = message_from_bytes(sent, policy=policy.default)
    refs = f"{original.get('References', '')} {original['Message-ID']}".strip()
    return mail(sender, f"Re: {original['Subject']}", message_id, body, in_reply_to=original["Message-ID"],
                references=refs, **headers)
