"""Business hours: a weekly window and holidays in the desk's time zone, and time counted in them.

Times are stored in UTC (DESIGN.md); a rule asks in local time, so the conversion happens here
and nowhere else. A window whose end is not after its start runs past midnight (22:00-06:00).
SLA clocks count open seconds (`elapsed`) and find when a target is reached (`add`); each day's
window is built in local time and then converted, so a day that changes to or from daylight
saving time keeps the local opening hours it says, whatever its length in UTC.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 3 * 366  # a calendar with no open hour within this span never reaches a target


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class BusinessHours:
    """Open on `days` (0 = Monday) from `start` to `end`, closed on `holidays` (local dates)."""

    time_zone: str = "UTC"
    days: frozenset[int] = frozenset(range(5))
    start: time = time(9)
    end: time = time(18)
    holidays: frozenset[date] = frozenset()

    @classmethod
    def from_config(cls, time_zone: str, days=("mon", "tue", "wed", "thu", "fri"), start: time = time(9),
                    end: time = time(18), holidays=()) -> "BusinessHours":
        """Build from config values: day names like "mon", `datetime.time` bounds, holiday dates."""
        return cls(time_zone, frozenset(DAYS.index(d) for d in days), start, end, frozenset(holidays))

    def is_open(self, moment: datetime) -> bool:
        """Whether `moment` falls inside business hours; a naive datetime is taken as UTC."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        local = moment.astimezone(ZoneInfo(self.time_zone))
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            day, inside = local.date(), self.start <= clock < self.end
        elif clock >= self.start:  # evening part of an overnight window
            day, inside = local.date(), True
        else:  # early-morning part belongs to the window that opened the day before
            day = date.fromordinal(local.date().toordinal() - 1)
            inside = clock < self.end
        return inside and day.weekday() in self.days and day not in self.holidays

    def _window(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
        """The open window (UTC) that begins on a local day, if the desk opens that day."""
        if day.weekday() not in self.days or day in self.holidays:
            return None
        end_day = day if self.start < self.end else date.fromordinal(day.toordinal() + 1)
        opens = datetime.combine(day, self.start, tzinfo=zone).astimezone(timezone.utc)
        closes = datetime.combine(end_day, self.end, tzinfo=zone).astimezone(timezone.utc)
        return (opens, closes) if closes > opens else None

    def windows(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open windows (UTC) that end after `moment`, in order (the day before is included for overnight windows)."""
        zone = ZoneInfo(self.time_zone)
        moment = _utc(moment)
        first = moment.astimezone(zone).date().toordinal() - 1
        for ordinal in range(first, first + MAX_DAYS):
            window = self._window(date.fromordinal(ordinal), zone)
            if window and window[1] > moment:
                yield window

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Open seconds between two moments (0 when `end` is not after `start`)."""
        start, end = _utc(start), _utc(end)
        total = 0.0
        if end <= start:
            return total
        for opens, closes in self.windows(start):
            if opens >= end:
                break
            total += (min(closes, end) - max(opens, start)).total_seconds()
        return total

    def add(self, start: datetime, seconds: float) -> datetime | None:
        """The moment when `seconds` of open time have passed since `start` (None: never, no open day)."""
        start = _utc(start)
        if seconds <= 0:
            return start
        left = seconds
        for opens, closes in self.windows(start):
            begin = max(opens, start)
            span = (closes - begin).total_seconds()
            if left <= span:
                return begin + timedelta(seconds=left)
            left -= span
        return None


@dataclass(frozen=True)
class RoundTheClock:
    """A calendar that is always open: SLA targets in plain wall-clock time."""

    def is_open(self, moment: datetime) -> bool:
        return True

    def elapsed(self, start: datetime, end: datetime) -> float:
        return max(0.0, (_utc(end) - _utc(start)).total_seconds())

    def add(self, start: datetime, seconds: float) -> datetime:
        return _utc(start) + timedelta(seconds=max(0.0, seconds))
