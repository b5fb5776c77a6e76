"""The digest by email on a schedule: one durable delivery row per recipient and period, sent over SMTP.

The row's unique key (recipient, frequency, period start) makes each digest go out once however
many processes run; a failed send is retried with back-off and the reason is kept on the row.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.actions.context import Desk, unit_of_work
from bot.config import Settings
from bot.feedback.digest import Digest, build_digest
from bot.feedback.periods import Period, days, parse_period
from bot.feedback.render import email_html, markdown
from bot.storage.models import DigestDelivery

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 6


def due_period(every: str, zone, now: datetime, send_hour: int) -> Period | None:
    """The last complete day or week, once the local time is past the sending hour."""
    local = now.astimezone(zone)
    if local.hour < send_hour:
        return None
    return parse_period("day" if every == "day" else "week", zone, now)


def digest_email(settings: Settings, digest: Digest, recipient: str, url: str) -> EmailMessage:
    """multipart/alternative: a plain-text (Markdown) part and HTML with the charts as inline PNG images (cid:)."""
    message = EmailMessage()
    message["Subject"] = f"{settings.desk.name}: digest, {digest.period['label']}"
    message["From"] = settings.feedback.digest.email.sender
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.feedback.digest.email.sender.rsplit("@", 1)[1])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders do not answer it
    message.set_content(markdown(digest, settings.desk.name))
    html, images = email_html(digest, settings.desk.name, url)
    message.add_alternative(html, subtype="html")
    html_part = message.get_payload()[1]
    for cid, data in images.items():
        html_part.add_related(data, maintype="image", subtype="png", cid=f"<{cid}>", filename=f"{cid.split('@')[0]}.png")
    return message


async def send_email(settings: Settings, message: EmailMessage) -> None:
    import aiosmtplib

    config = settings.feedback.digest.email
    await aiosmtplib.send(message, hostname=config.smtp_host, port=config.smtp_port, start_tls=config.starttls or None,
                          username=config.username or None, password=config.password or None, timeout=30)


async def plan_deliveries(desk: Desk, now: datetime) -> int:
    """Add the delivery rows that are due (a row per recipient and period, once)."""
    config = desk.settings.feedback.digest.email
    zone = ZoneInfo(desk.settings.desk.time_zone)
    planned = 0
    for recipient in config.recipients:
        period = due_period(recipient.every, zone, now, config.send_hour)
        if period is None:
            continue
        async with desk.sessions() as s:
            if (await s.execute(select(DigestDelivery.id).where(
                    DigestDelivery.recipient == recipient.email, DigestDelivery.every == recipient.every,
                    DigestDelivery.period_start == period.start))).first():
                continue
        try:
            async with unit_of_work(desk) as unit:
                unit.session.add(DigestDelivery(recipient=recipient.email, every=recipient.every, period_start=period.start,
                                                period_end=period.end, status="pending", next_attempt_at=now, created_at=now))
            planned += 1
        except IntegrityError:  # another process planned it
            pass
    return planned


async def send_due_digests(desk: Desk, public_url: str, now: datetime) -> int:
    """Send every pending digest email; returns how many went out."""
    zone = ZoneInfo(desk.settings.desk.time_zone)
    async with desk.sessions() as s:
        ids = list((await s.execute(select(DigestDelivery.id).where(
            DigestDelivery.status == "pending", DigestDelivery.next_attempt_at <= now).order_by(DigestDelivery.id))).scalars())
    sent = 0
    for delivery_id in ids:
        async with unit_of_work(desk) as unit:  # the claim: exactly one process goes on with this row
            claimed = (await unit.session.execute(
                update(DigestDelivery).where(DigestDelivery.id == delivery_id, DigestDelivery.status == "pending")
                .values(status="sending", attempts=DigestDelivery.attempts + 1, next_attempt_at=now + timedelta(minutes=10))
                .execution_options(synchronize_session=False))).rowcount
        if not claimed:
            continue
        async with desk.sessions() as s:
            row = await s.get(DigestDelivery, delivery_id)
        first, last = row.period_start.astimezone(zone).date(), (row.period_end.astimezone(zone) - timedelta(seconds=1)).date()
        try:
            label = f"week of {first} – {last}" if row.every == "week" else ""
            digest = await build_digest(desk, days(first, last, zone, label), now)
            await send_email(desk.settings, digest_email(desk.settings, digest, row.recipient, f"{public_url.rstrip('/')}/console/digest"))
        except Exception as exc:  # SMTP refused, unreachable, or a bug: retry later, keep the reason
            logger.warning("digest to %s for %s failed (attempt %d): %s", row.recipient, first, row.attempts, exc)
            async with unit_of_work(desk) as unit:
                failed = row.attempts >= MAX_ATTEMPTS
                await unit.session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id).values(
                    status="failed" if failed else "pending", last_error=f"{type(exc).__name__}: {exc}"[:2000],
                    next_attempt_at=now + timedelta(minutes=5 * 2 ** row.attempts)))
            continue
        async with unit_of_work(desk) as unit:
            await unit.session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id).values(
                status="sent", sent_at=now, last_error=""))
        sent += 1
    return sent


class DigestMail:
    """The worker pass: plan what is due, send what is pending."""

    __name__ = "digest mail"

    def __init__(self, public_url: str):
        self.public_url = public_url

    async def __call__(self, desk: Desk, now: datetime) -> None:
        if not desk.settings.feedback.digest.email.enabled:
            return
        await plan_deliveries(desk, now)
        await send_due_digests(desk, self.public_url, now)
