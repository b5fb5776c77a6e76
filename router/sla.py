"""SLA clocks and the traffic light, computed from a ticket's timeline (pure: no storage, `now` given).

Three clocks per ticket, each with a target per queue and priority:
- first response: from the hand-off to the router until the first operator reply;
- next response: from a client message that came after a reply until the next reply;
- resolution: from the hand-off until resolution, paused while the ticket waits for the client
  (from an operator reply until the client writes again).
Time is counted in the calendar's open hours (`router.hours`). A clock is green until a share of
its target is used (yellow, default 75%), red once the target is reached. Because everything is
recomputed from the timeline, a restart, a lost event or a clock jump cannot leave a clock wrong.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

GREEN, YELLOW, RED = 0, 1, 2
LIGHTS = ("green", "yellow", "red")
CLOCKS = ("first_response", "next_response", "resolution")

# Timeline event kinds.
START, CLIENT, REPLY, RESOLVE, REOPEN = "start", "client", "reply", "resolve", "reopen"


class Calendar(Protocol):
    def elapsed(self, start: datetime, end: datetime) -> float: ...

    def add(self, start: datetime, seconds: float) -> datetime | None: ...


@dataclass(frozen=True)
class Targets:
    """Targets in seconds of calendar time; None: no target for that clock."""

    first_response: float | None = None
    next_response: float | None = None
    resolution: float | None = None

    def of(self, clock: str) -> float | None:
        return getattr(self, clock)


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    kind: str  # START, CLIENT, REPLY, RESOLVE, REOPEN


@dataclass(frozen=True)
class Clock:
    """One running or paused clock at `now`."""

    name: str
    key: str  # stable per cycle: escalations are remembered by it
    used: float  # calendar seconds used
    target: float
    running: bool
    level: int
    yellow_at: datetime | None  # when the clock turns (or turned) yellow; None while paused
    red_at: datetime | None

    @property
    def left(self) -> float:
        return self.target - self.used


def level_of(used: float, target: float, yellow_share: float) -> int:
    if used >= target:
        return RED
    return YELLOW if used >= target * yellow_share else GREEN


@dataclass
class SlaState:
    """Where a ticket's timeline leaves its clocks; needs no calendar, so it may be stored and carried on.

    The resolution clock's time is kept as its closed running segments (`spent`), counted in open
    hours only when clocks are read, so a stored state stays right if the business hours change.
    """

    started: datetime | None = None
    resolved: bool = False
    awaiting: datetime | None = None  # a client message waits for a reply since then
    answered: bool = False  # an operator has replied at least once
    waiting: bool = False  # waiting for the client: resolution paused
    spent: list[tuple[datetime, datetime]] = field(default_factory=list)  # closed resolution segments
    since: datetime | None = None  # the running resolution segment's start


def replay(timeline: Iterable[TimelineEvent]) -> SlaState:
    """The state after the timeline's events, in time order."""
    st = SlaState()

    def pause(at: datetime) -> None:
        if st.since is not None:
            st.spent.append((st.since, at))
            st.since = None

    for event in sorted(timeline, key=lambda e: e.at):
        if event.kind == START and st.started is None:
            st.started, st.awaiting, st.since = event.at, event.at, event.at
            continue
        if st.started is None:  # what happened with self-service does not count
            continue
        if event.kind == CLIENT:
            client_wrote(st, event.at)
        elif event.kind == REPLY and not st.resolved:
            st.awaiting = None
            st.answered = True
            st.waiting = True
            pause(event.at)
        elif event.kind == RESOLVE and not st.resolved:
            st.resolved, st.awaiting, st.waiting = True, None, False
            pause(event.at)
        elif event.kind == REOPEN and st.resolved:
            st.resolved = False
            st.since = event.at
    return st


def client_wrote(st: SlaState, at: datetime) -> None:
    """A client message at `at`, the latest event so far, on a started timeline (the storage's triggers
    do the same in SQL: migration 0012)."""
    st.resolved = False
    if st.awaiting is None:
        st.awaiting = at
    st.waiting = False
    if st.since is None:
        st.since = at


def clocks(timeline: Sequence[TimelineEvent], targets: Targets, calendar: Calendar, now: datetime,
           yellow_share: float = 0.75) -> list[Clock]:
    """The ticket's clocks that are running or paused at `now`, with their light and due times."""
    return clocks_of(replay([e for e in timeline if e.at <= now]), targets, calendar, now, yellow_share)


def clocks_of(st: SlaState, targets: Targets, calendar: Calendar, now: datetime,
              yellow_share: float = 0.75) -> list[Clock]:
    """`clocks` from the state of a timeline whose events are all at or before `now`."""
    if st.started is None or st.resolved:
        return []
    found: list[Clock] = []
    if st.awaiting is not None:
        name = "next_response" if st.answered else "first_response"
        target = targets.of(name)
        if target is not None:
            used = calendar.elapsed(st.awaiting, now)
            found.append(Clock(name, f"{name}@{st.awaiting.isoformat()}", used, target, True,
                               level_of(used, target, yellow_share),
                               calendar.add(st.awaiting, target * yellow_share), calendar.add(st.awaiting, target)))
    if targets.resolution is not None:
        target = targets.resolution
        spent = 0.0
        for start, end in st.spent:
            spent += calendar.elapsed(start, end)
        running = st.since is not None
        used = spent + (calendar.elapsed(st.since, now) if running else 0.0)
        yellow_at = red_at = None
        if running:
            yellow_at = calendar.add(st.since, target * yellow_share - spent)
            red_at = calendar.add(st.since, target - spent)
        found.append(Clock("resolution", f"resolution@{st.started.isoformat()}", used, target, running,
                           level_of(used, target, yellow_share), yellow_at, red_at))
    return found


@dataclass(frozen=True)
class Light:
    """A ticket's traffic light: the worst clock, and the time left on the most urgent running one."""

    level: int
    clock: str | None
    red_at: datetime | None  # None: nothing running (paused or no target)
    paused: bool

    @property
    def name(self) -> str:
        return LIGHTS[self.level]


def light(found: Sequence[Clock]) -> Light:
    if not found:
        return Light(GREEN, None, None, False)
    worst = max(found, key=lambda c: (c.level, -c.left))
    running = [c for c in found if c.running and c.red_at is not None]
    urgent = min(running, key=lambda c: c.red_at) if running else None
    return Light(worst.level, (urgent or worst).name, urgent.red_at if urgent else None, urgent is None)


def next_change(found: Sequence[Clock], now: datetime) -> datetime | None:
    """The next moment a running clock changes colour (when the worker should look again)."""
    moments = [m for c in found if c.running for m in (c.yellow_at, c.red_at) if m is not None and m > now]
    return min(moments, default=None)


@dataclass(frozen=True)
class Escalation:
    key: str  # clock key and level: fires at most once
    clock: str
    level: int


def escalations_due(found: Sequence[Clock], fired: Iterable[str]) -> list[Escalation]:
    """Every yellow or red step the clocks have reached that has not fired yet, highest first."""
    done = set(fired)
    due = [Escalation(f"{c.key}:{LIGHTS[level]}", c.name, level)
           for c in found for level in (YELLOW, RED) if c.level >= level]
    return sorted((e for e in due if e.key not in done), key=lambda e: -e.level)


def to_fire(due: Sequence[Escalation]) -> tuple[Escalation | None, list[Escalation]]:
    """Of the overdue steps, only the highest fires; the rest are recorded as passed over.

    After downtime a ticket may owe both its yellow and its red step: firing both would tell the
    supervisors twice about one ticket, so only the red one fires.
    """
    if not due:
        return None, []
    top = max(due, key=lambda e: e.level)
    return top, [e for e in due if e is not top]


def queue_light(levels: Iterable[int]) -> tuple[int, dict[str, int]]:
    """A queue's light (its worst ticket) and how many tickets show each colour."""
    counts = {name: 0 for name in LIGHTS}
    worst = GREEN
    for level in levels:
        counts[LIGHTS[level]] += 1
        worst = max(worst, level)
    return worst, counts
