"""When the team is back: the next opening of business hours, said in the client's language."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_timedelta

from router.hours import BusinessHours

SEARCH_DAYS = 60  # a desk closed for longer than this has no "back at" worth promising


@lru_cache(maxsize=64)
def _locale(language: str) -> Locale:
    """Babel's locale, parsed once: parsing looks for the locale's data file on every call."""
    return Locale.parse(language)


def next_opening(hours: BusinessHours, moment: datetime) -> datetime | None:
    """The first moment after ``moment`` when business hours begin (UTC), or None if none is near."""
    zone = ZoneInfo(hours.time_zone)
    local = moment.astimezone(zone)
    for offset in range(SEARCH_DAYS + 1):
        day = date.fromordinal(local.date().toordinal() + offset)
        if day.weekday() not in hours.days or day in hours.holidays:
            continue
        opens = datetime.combine(day, hours.start, tzinfo=zone)
        if opens > local:
            return opens.astimezone(timezone.utc)
    return None


def say_when(opening: datetime, now: datetime, time_zone: str, language: str, t) -> str:
    """ "today at 09:00", "tomorrow at 09:00", "on Monday at 09:00" in the client's language, desk time."""
    zone = ZoneInfo(time_zone)
    local, today = opening.astimezone(zone), now.astimezone(zone).date()
    locale = _locale(language)
    clock = format_datetime(local, "HH:mm", locale=locale)
    days = (local.date() - today).days
    if days == 0:
        return t.gettext("today at {time}", time=clock)
    if days == 1:
        return t.gettext("tomorrow at {time}", time=clock)
    if days < 7:
        return t.gettext("on {weekday} at {time}", weekday=format_datetime(local, "EEEE", locale=locale), time=clock)
    return t.gettext("on {date} at {time}", date=format_datetime(local, "d MMMM", locale=locale), time=clock)


def say_duration(minutes: int, language: str) -> str:
    """ "15 minutes", "2 hours" in the client's language."""
    return format_timedelta(timedelta(minutes=minutes), threshold=1.5, locale=_locale(language))


def utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
