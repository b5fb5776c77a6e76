"""SLA clocks from a ticket's timeline: first/next response, resolution paused while waiting, lights, escalations."""
from datetime import datetime, timedelta, timezone

from router.hours import BusinessHours, RoundTheClock
from router.sla import (
    CLIENT, GREEN, RED, REOPEN, REPLY, RESOLVE, START, YELLOW, Targets, TimelineEvent, clocks, escalations_due, light,
    next_change, queue_light, to_fire,
)

UTC = timezone.utc
T0 = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)  # Wednesday 10:00 in Riga
ALWAYS = RoundTheClock()
TARGETS = Targets(first_response=60 * 60, next_response=30 * 60, resolution=8 * 3600)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ev(minutes: float, kind: str) -> TimelineEvent:
    return TimelineEvent(at(minutes), kind)


def by_name(found):
    return {c.name: c for c in found}


def test_first_response_runs_from_the_hand_off_and_turns_yellow_then_red():
    timeline = [ev(-10, CLIENT), ev(0, START)]  # the bot held the ticket for ten minutes: not counted
    green = by_name(clocks(timeline, TARGETS, ALWAYS, at(30)))
    assert green["first_response"].level == GREEN and green["first_response"].used == 30 * 60
    assert green["first_response"].yellow_at == at(45) and green["first_response"].red_at == at(60)
    assert by_name(clocks(timeline, TARGETS, ALWAYS, at(45)))["first_response"].level == YELLOW
    assert by_name(clocks(timeline, TARGETS, ALWAYS, at(61)))["first_response"].level == RED


def test_a_reply_stops_the_response_clock_and_pauses_resolution_until_the_client_writes():
    timeline = [ev(0, START), ev(20, REPLY)]
    found = by_name(clocks(timeline, TARGETS, ALWAYS, at(300)))
    assert "first_response" not in found
    resolution = found["resolution"]
    assert not resolution.running and resolution.used == 20 * 60 and resolution.red_at is None
    timeline.append(ev(400, CLIENT))
    found = by_name(clocks(timeline, TARGETS, ALWAYS, at(410)))
    assert found["next_response"].used == 10 * 60 and found["next_response"].red_at == at(430)
    assert found["resolution"].running and found["resolution"].used == 30 * 60
    assert found["resolution"].red_at == at(400 + 8 * 60 - 20)


def test_resolution_stops_the_clocks_and_a_client_message_reopens_them():
    timeline = [ev(0, START), ev(10, REPLY), ev(20, CLIENT), ev(25, RESOLVE)]
    assert clocks(timeline, TARGETS, ALWAYS, at(60)) == []
    timeline.append(ev(100, CLIENT))
    found = by_name(clocks(timeline, TARGETS, ALWAYS, at(110)))
    assert found["next_response"].used == 10 * 60
    assert found["resolution"].used == (10 + 5 + 10) * 60


def test_an_operator_reopening_restarts_resolution_only():
    timeline = [ev(0, START), ev(10, RESOLVE), ev(50, REOPEN)]
    found = by_name(clocks(timeline, TARGETS, ALWAYS, at(60)))
    assert set(found) == {"resolution"} and found["resolution"].used == 20 * 60


def test_clocks_count_business_hours_only():
    riga = BusinessHours.from_config("Europe/Riga")
    friday_5pm = datetime(2026, 1, 16, 15, 0, tzinfo=UTC)
    timeline = [TimelineEvent(friday_5pm, START)]
    monday_morning = datetime(2026, 1, 19, 7, 30, tzinfo=UTC)  # Mon 09:30 local
    found = by_name(clocks(timeline, Targets(first_response=2 * 3600), riga, monday_morning))
    # One hour on Friday, half an hour on Monday: 75% of two hours, so yellow; red at Monday 10:00.
    assert found["first_response"].used == 90 * 60 and found["first_response"].level == YELLOW
    assert found["first_response"].red_at == datetime(2026, 1, 19, 8, 0, tzinfo=UTC)


def test_clocks_without_a_target_are_not_shown():
    found = clocks([ev(0, START)], Targets(first_response=600), ALWAYS, at(1))
    assert [c.name for c in found] == ["first_response"]
    assert clocks([ev(0, START)], Targets(), ALWAYS, at(1)) == []


def test_nothing_runs_before_the_hand_off():
    assert clocks([ev(0, CLIENT)], TARGETS, ALWAYS, at(500)) == []
    assert clocks([ev(10, START)], TARGETS, ALWAYS, at(5)) == []  # events after now are ignored


def test_the_light_is_the_worst_clock_with_the_time_left_on_the_most_urgent():
    found = clocks([ev(0, START)], TARGETS, ALWAYS, at(50))
    shown = light(found)
    assert shown.name == "yellow" and shown.clock == "first_response" and shown.red_at == at(60)
    paused = light(clocks([ev(0, START), ev(500, REPLY)], TARGETS, ALWAYS, at(600)))
    assert paused.name == "red" and paused.paused and paused.red_at is None  # resolution breached, on hold
    assert light([]).name == "green"


def test_the_worker_looks_again_when_a_clock_changes_colour():
    found = clocks([ev(0, START)], TARGETS, ALWAYS, at(10))
    assert next_change(found, at(10)) == at(45)
    assert next_change(found, at(50)) == at(60)


def test_each_step_fires_once_and_after_downtime_only_the_highest():
    timeline = [ev(0, START)]
    found = clocks(timeline, TARGETS, ALWAYS, at(50))
    [yellow] = escalations_due(found, fired=())
    assert yellow.level == YELLOW and yellow.clock == "first_response"
    assert escalations_due(found, fired=[yellow.key]) == []
    # The desk was down from minute 40 to minute 600: first response is red, resolution red too.
    late = clocks(timeline, TARGETS, ALWAYS, at(600))
    due = escalations_due(late, fired=())
    fire, passed_over = to_fire(due)
    assert fire.level == RED and len(due) == 4 and len(passed_over) == 3
    assert to_fire([]) == (None, [])


def test_a_new_response_cycle_escalates_anew():
    timeline = [ev(0, START), ev(70, REPLY), ev(100, CLIENT)]
    first = escalations_due(clocks(timeline[:1], TARGETS, ALWAYS, at(65)), ())
    second = escalations_due(clocks(timeline, TARGETS, ALWAYS, at(140)), fired=[e.key for e in first])
    assert {e.clock for e in second} == {"next_response"}


def test_a_queue_shows_its_worst_ticket_and_the_count_per_colour():
    assert queue_light([GREEN, YELLOW, GREEN]) == (YELLOW, {"green": 2, "yellow": 1, "red": 0})
    assert queue_light([]) == (GREEN, {"green": 0, "yellow": 0, "red": 0})
