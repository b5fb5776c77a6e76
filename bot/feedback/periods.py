"""Digest periods in the desk's time zone: last week, last month, yesterday, or explicit dates (pure)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from bot.errors import InvalidInput

_RANGE = re.compile(r"^(\d{4}-\d\d-\d\d):(\d{4}-\d\d-\d\d)$")
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, with the local first and last day for people, and the period just before it."""

    start: datetime
    end: datetime
    first_day: date
    last_day: date
    label: str  # English; renderers name a week or month in the reader's language from `kind`
    kind: str = "days"  # week, month or days

    @property
    def previous(self) -> "Period":
        days = (self.last_day - self.first_day).days + 1
        first, last = self.first_day - timedelta(days=days), self.first_day - timedelta(days=1)
        return Period(self.start - (self.end - self.start), self.start, first, last, f"{first} – {last}")


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc)


def days(first: date, last: date, zone: tzinfo, label: str = "", kind: str = "days") -> Period:
    """The local days first..last (inclusive); a `week` is labelled as one."""
    if not label:
        label = f"week of {first} – {last}" if kind == "week" else f"{first}" if first == last else f"{first} – {last}"
    return Period(_local_midnight(first, zone), _local_midnight(last + timedelta(days=1), zone), first, last, label, kind)


def parse_period(value: str, zone: tzinfo, now: datetime) -> Period:
    """`week` (the last full Monday-Sunday week), `month` (the last full month), `day` (yesterday), or `A:B` dates."""
    today = now.astimezone(zone).date()
    value = (value or "week").strip().lower()
    if value == "week":
        monday = today - timedelta(days=today.weekday() + 7)
        return days(monday, monday + timedelta(days=6), zone, kind="week")
    if value == "month":
        last = today.replace(day=1) - timedelta(days=1)
        return days(last.replace(day=1), last, zone, last.strftime("%B %Y"), kind="month")
    if value == "day":
        yesterday = today - timedelta(days=1)
        return days(yesterday, yesterday, zone)
    match = _RANGE.match(value)
    if not match:
        raise InvalidInput("period {value!r}: use week, month, day or YYYY-MM-DD:YYYY-MM-DD", value=value)
    try:
        first, last = date.fromisoformat(match.group(1)), date.fromisoformat(match.group(2))
    except ValueError:
        raise InvalidInput("period {value!r}: there is no such date", value=value) from None
    if last < first:
        raise InvalidInput("period {value!r}: the end is before the start", value=value)
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput("period {value!r}: at most {limit} days", value=value, limit=MAX_DAYS)
    return days(first, last, zone)
