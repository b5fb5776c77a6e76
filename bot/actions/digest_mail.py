"""The digest by email on a schedule: one durable delivery row per recipient and period, sent over SMTP.

The row's unique key (recipient, frequency, period start) makes each digest go out once however
many processes run; a failed send is retried with back-off and the reason is kept on the row.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.actions.context import Desk, unit_of_work
from bot.actions.preferences import console_language_of
from bot.feedback.digest import build_digest
from bot.feedback.mailer import digest_email, due_period, send_email
from bot.feedback.periods import days
from bot.storage.models import DigestDelivery

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 6


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


async def recipient_language(desk: Desk, email: str) -> str:
    """The console language of the operator a recipient names, or "" (the desk's default language)."""
    for recipient in desk.settings.feedback.digest.email.recipients:
        if recipient.email == email and recipient.operator:
            return await console_language_of(desk, recipient.operator)
    return ""


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
            digest = await build_digest(desk, days(first, last, zone, kind="week" if row.every == "week" else "days"), now)
            await send_email(desk.settings, digest_email(desk.settings, digest, row.recipient, f"{public_url.rstrip('/')}/console/digest",
                                                         await recipient_language(desk, row.recipient)))
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
