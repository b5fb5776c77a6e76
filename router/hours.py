"""Business hours: a weekly window and holidays in the desk's time zone.

Times are stored in UTC (DESIGN.md); a rule asks in local time, so the conversion happens here
and nowhere else. A window whose end is not after its start runs past midnight (22:00-06:00).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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
