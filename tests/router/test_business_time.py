"""Business-time arithmetic for SLA clocks: weekends, holidays, time zones, DST, overnight windows."""
from datetime import date, datetime, time, timedelta, timezone

import pytest

from router.hours import BusinessHours, RoundTheClock

UTC = timezone.utc
RIGA = BusinessHours.from_config("Europe/Riga")  # Mon-Fri 09:00-18:00, UTC+2 in winter, UTC+3 in summer
HOUR = 3600


def test_time_inside_one_day_counts_as_is():
    start = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)  # Wed 10:00 in Riga
    assert RIGA.elapsed(start, start + timedelta(hours=2)) == 2 * HOUR
    assert RIGA.add(start, 2 * HOUR) == start + timedelta(hours=2)


def test_the_night_and_the_weekend_do_not_count():
    friday_5pm = datetime(2026, 1, 16, 15, 0, tzinfo=UTC)  # Fri 17:00 local
    due = RIGA.add(friday_5pm, 3 * HOUR)
    assert due == datetime(2026, 1, 19, 9, 0, tzinfo=UTC)  # Mon 11:00 local
    assert RIGA.elapsed(friday_5pm, due) == 3 * HOUR


def test_a_start_outside_hours_waits_for_the_opening():
    saturday = datetime(2026, 1, 17, 12, 0, tzinfo=UTC)
    assert RIGA.add(saturday, 30 * 60) == datetime(2026, 1, 19, 7, 30, tzinfo=UTC)
    assert RIGA.elapsed(saturday, datetime(2026, 1, 19, 7, 0, tzinfo=UTC)) == 0


def test_holidays_are_closed_all_day():
    hours = BusinessHours.from_config("Europe/Riga", holidays=[date(2026, 1, 19)])
    friday_5pm = datetime(2026, 1, 16, 15, 0, tzinfo=UTC)
    assert hours.add(friday_5pm, 2 * HOUR) == datetime(2026, 1, 20, 8, 0, tzinfo=UTC)  # Tue 10:00


def test_the_spring_dst_change_keeps_local_opening_hours():
    # Riga moves to summer time on Sunday 29 March 2026: Monday opens at 06:00 UTC instead of 07:00.
    friday_5pm = datetime(2026, 3, 27, 15, 0, tzinfo=UTC)
    assert RIGA.add(friday_5pm, 3 * HOUR) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_the_autumn_dst_change_keeps_local_opening_hours():
    # Back to winter time on Sunday 25 October 2026: Monday opens at 07:00 UTC.
    friday_5pm = datetime(2026, 10, 23, 14, 0, tzinfo=UTC)
    assert RIGA.add(friday_5pm, 3 * HOUR) == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


def test_a_day_with_a_dst_change_inside_the_window_has_its_true_length():
    # A desk open round the clock on Sundays sees the spring Sunday 23 hours long, the autumn one 25.
    sundays = BusinessHours.from_config("Europe/Riga", days=["sun"], start=time(0), end=time(0))
    spring = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # Sun 00:00 local
    assert sundays.elapsed(spring, spring + timedelta(days=1)) == 23 * HOUR
    autumn = datetime(2026, 10, 24, 21, 0, tzinfo=UTC)
    assert sundays.elapsed(autumn, autumn + timedelta(days=1, hours=1)) == 25 * HOUR


def test_an_overnight_window_runs_past_midnight():
    nights = BusinessHours.from_config("UTC", days=["mon"], start=time(22), end=time(6))
    monday_late = datetime(2026, 1, 12, 23, 0, tzinfo=UTC)
    assert nights.add(monday_late, 5 * HOUR) == datetime(2026, 1, 13, 4, 0, tzinfo=UTC)
    assert nights.add(monday_late, 8 * HOUR) == datetime(2026, 1, 19, 23, 0, tzinfo=UTC)  # next Monday night


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo", "Pacific/Chatham"])
def test_add_and_elapsed_agree_in_any_time_zone(zone):
    hours = BusinessHours.from_config(zone)
    start = datetime(2026, 3, 6, 13, 17, tzinfo=UTC)
    for seconds in (1, 3600, 9 * 3600, 40 * 3600, 123_457):
        assert hours.elapsed(start, hours.add(start, seconds)) == pytest.approx(seconds)


def test_a_calendar_that_never_opens_never_reaches_a_target():
    closed = BusinessHours.from_config("UTC", days=[])
    assert closed.add(datetime(2026, 1, 1, tzinfo=UTC), 60) is None


def test_round_the_clock_is_wall_time():
    start = datetime(2026, 1, 17, 12, 0, tzinfo=UTC)
    assert RoundTheClock().add(start, 90) == start + timedelta(seconds=90)
    assert RoundTheClock().elapsed(start, start + timedelta(hours=30)) == 30 * HOUR
