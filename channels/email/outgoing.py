"""Hand a reply to the outgoing SMTP server (aiosmtplib); failures classified for the outbox.

RFC 5321 section 4.2.1: a 4xx reply is transient (the outbox retries with back-off), a 5xx reply is
permanent (the operator sees the server's words). A refused login is permanent too: retrying
cannot fix a wrong password, the admin must (habit 9 of the house style).
"""
from __future__ import annotations

import asyncio
import logging
import ssl
from email.message import EmailMessage
from typing import TYPE_CHECKING

import aiosmtplib

from bot.errors import DeliveryError

if TYPE_CHECKING:
    from bot.email_config import EmailSmtpSettings

logger = logging.getLogger(__name__)


def _words(message: str) -> str:
    return " ".join(str(message).split())[:500]


def _classified(code: int, message: str, what: str) -> DeliveryError:
    reason = f"{what}: {code} {_words(message)}".strip()
    if 400 <= code < 500:
        return DeliveryError(reason, permanent=False)
    return DeliveryError(reason, permanent=code >= 500 or code < 400)


async def send_mail(settings: EmailSmtpSettings, mail: EmailMessage, *, recipient: str) -> None:
    """Deliver one message to the SMTP server; raise DeliveryError saying whether a retry can help."""
    password = settings.password.get_secret_value()
    try:
        await aiosmtplib.send(
            mail, sender=settings.from_address, recipients=[recipient], hostname=settings.host, port=settings.port,
            username=settings.username or None, password=password if settings.username else None,
            use_tls=settings.security == "tls", start_tls=True if settings.security == "starttls" else False,
            timeout=settings.timeout_seconds)
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"the SMTP server refused the desk's login ({exc.code} {_words(exc.message)}); "
                            "check channels.email.smtp.username and password", permanent=True) from None
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0]
        raise _classified(first.code, first.message, f"the SMTP server refused {recipient}") from None
    except aiosmtplib.SMTPResponseException as exc:
        raise _classified(exc.code, exc.message, "the SMTP server refused the message") from None
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
        raise DeliveryError(f"cannot reach the SMTP server {settings.host}:{settings.port} "
                            f"({type(exc).__name__}: {_words(str(exc))})", permanent=False) from None


async def check_login(settings: EmailSmtpSettings) -> str:
    """At start-up: "" when the server takes our login (or needs none), else why not; raises only on refusal."""
    client = aiosmtplib.SMTP(hostname=settings.host, port=settings.port, use_tls=settings.security == "tls",
                             start_tls=True if settings.security == "starttls" else False,
                             timeout=settings.timeout_seconds)
    try:
        await client.connect()
        if settings.username:
            await client.login(settings.username, settings.password.get_secret_value())
        return ""
    except aiosmtplib.SMTPAuthenticationError:
        raise
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
        return f"{type(exc).__name__}: {_words(str(exc))}"
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
                client.close()
