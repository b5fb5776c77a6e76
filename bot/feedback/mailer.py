"""The digest as an email: which period is due, the multipart message with inline charts, the SMTP send.

The durable delivery rows (one per recipient and period) are bot/actions/digest_mail.py's.
"""
from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from bot.config import Settings
from bot.dialogue.i18n import default_catalogs
from bot.feedback.digest import Digest
from bot.feedback.periods import Period, parse_period
from bot.feedback.render import email_html, markdown, period_label


def due_period(every: str, zone, now: datetime, send_hour: int) -> Period | None:
    """The last complete day or week, once the local time is past the sending hour."""
    local = now.astimezone(zone)
    if local.hour < send_hour:
        return None
    return parse_period("day" if every == "day" else "week", zone, now)


def digest_email(settings: Settings, digest: Digest, recipient: str, url: str, language: str = "") -> EmailMessage:
    """multipart/alternative: a plain-text (Markdown) part and HTML with the charts as inline PNG images (cid:).

    In `language` (the recipient's console language), else the desk's default language.
    """
    catalogs = default_catalogs()
    language = language if catalogs.has(language) else settings.desk.default_language
    message = EmailMessage()
    message["Subject"] = catalogs.get(language).gettext("{desk}: digest, {period}", desk=settings.desk.name,
                                                        period=period_label(digest.period, language))
    message["From"] = settings.feedback.digest.email.sender
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.feedback.digest.email.sender.rsplit("@", 1)[1])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders do not answer it
    message.set_content(markdown(digest, settings.desk.name, language))
    html, images = email_html(digest, settings.desk.name, url, language)
    message.add_alternative(html, subtype="html")
    html_part = message.get_payload()[1]
    for cid, data in images.items():
        html_part.add_related(data, maintype="image", subtype="png", cid=f"<{cid}>", filename=f"{cid.split('@')[0]}.png")
    message["Content-Language"] = language  # RFC 3282; after the parts, which take over Content-* headers
    return message


async def send_email(settings: Settings, message: EmailMessage) -> None:
    import aiosmtplib

    config = settings.feedback.digest.email
    await aiosmtplib.send(message, hostname=config.smtp_host, port=config.smtp_port, start_tls=config.starttls or None,
                          username=config.username or None, password=config.password or None, timeout=30)
