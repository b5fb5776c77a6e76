"""The router's policy values built from the settings: queue policies, SLA targets, the calendar,
and the priority a client's segment or tags give a ticket.

Pure translation (no I/O): `router/` takes plain values, the config speaks TOML; this is the seam.
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from bot.feedback.segments import SEGMENTS
from router.assign import PRIORITY_RANK, QueuePolicy
from router.hours import BusinessHours, RoundTheClock
from router.sla import Calendar, Targets

if TYPE_CHECKING:  # bot.config mounts PrioritySettings below, so it is imported lazily here
    from bot.config import QueueRoutingSettings, Settings

Priority = Literal["low", "normal", "high", "urgent"]
CLOCK_KEYS = (("first_response", "first_response_minutes"), ("next_response", "next_response_minutes"),
              ("resolution", "resolution_minutes"))


class PrioritySettings(BaseModel):
    """`[router.priority]`: the priority a ticket gets when it is routed, by the client's segment or tags.

    A ticket takes the highest of its own priority and those its client's segment and tags map to:
    the mapping raises, never lowers (an SLA escalation or an operator's choice stands).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    segments: dict[str, Priority] = {}  # loyal, core, difficult, dormant -> priority
    tags: dict[str, Priority] = {}  # a pinned tag (e.g. VIP, matched ignoring case) -> priority

    @field_validator("segments")
    @classmethod
    def _known_segments(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(SEGMENTS))
        if unknown:
            raise ValueError(f"{unknown} are not segments; use {', '.join(SEGMENTS)}")
        return value

    @field_validator("tags")
    @classmethod
    def _tag_names(cls, value: dict[str, str]) -> dict[str, str]:
        folded = [" ".join(tag.split()).casefold() for tag in value]
        if "" in folded:
            raise ValueError("a tag name is empty")
        if len(set(folded)) != len(folded):
            raise ValueError("a tag is given twice (tags are matched ignoring case)")
        return value


def client_priority(settings: Settings, current: str, segment: str | None, tags=()) -> tuple[str, str]:
    """(the ticket's priority, why) for a client in ``segment`` with ``tags``; why is "" when nothing raised it."""
    config = settings.router.priority
    by_tag = {" ".join(tag.split()).casefold(): priority for tag, priority in config.tags.items()}
    causes = [(config.segments[segment], f"segment {segment}")] if segment in config.segments else []
    causes += [(by_tag[t.casefold()], f"tag {t}") for t in tags or () if t.casefold() in by_tag]
    best = max(causes, key=lambda cause: PRIORITY_RANK[cause[0]], default=None)
    if best is None or PRIORITY_RANK[best[0]] <= PRIORITY_RANK.get(current, 1):
        return current, ""
    return best[0], f"priority {best[0]} ({best[1]})"


def queue_settings(settings: Settings, queue: str) -> QueueRoutingSettings:
    from bot.config import QueueRoutingSettings

    return settings.router.queues.get(queue) or QueueRoutingSettings()


def queue_policy(settings: Settings, queue: str) -> QueuePolicy:
    """The assignment policy of one queue (defaults for queues without a `[router.queues.NAME]`)."""
    q = queue_settings(settings, queue)
    return QueuePolicy(
        strategy=q.strategy, least_busy_by=q.least_busy_by, language_required=q.language_required,
        max_level=q.max_level, offer_timeout=q.offer_timeout_seconds, offer_channels=frozenset(q.offer_channels),
        step_timeout=q.step_timeout_seconds, on_step_timeout=q.on_step_timeout, fallback_queue=q.fallback_queue,
        sticky_window=q.sticky_window_hours * 3600)


def sla_targets(settings: Settings, queue: str, priority: str) -> Targets:
    """For each clock, the most specific `[[router.sla.targets]]` row that sets it (queue and priority
    beat queue, which beats priority, which beats the catch-all)."""
    def specificity(row) -> int:
        return (2 if row.queue != "*" else 0) + (1 if row.priority != "*" else 0)

    rows = [r for r in settings.router.sla.targets
            if r.queue in ("*", queue) and r.priority in ("*", priority)]
    rows.sort(key=specificity, reverse=True)
    values = {}
    for clock, key in CLOCK_KEYS:
        minutes = next((getattr(r, key) for r in rows if getattr(r, key) is not None), None)
        values[clock] = minutes * 60 if minutes is not None else None
    return Targets(**values)


def sla_calendar(settings: Settings) -> Calendar:
    if not settings.router.sla.business_hours:
        return RoundTheClock()
    return _calendar(settings.desk.time_zone, settings.router.business_hours)


@lru_cache(maxsize=8)
def _calendar(time_zone: str, hours) -> BusinessHours:
    return BusinessHours.from_config(time_zone, hours.days, hours.start, hours.end, hours.holidays)


def capacity_of(settings: Settings, own: dict | None) -> dict[str, int]:
    """An operator's capacity per channel: their own, else the configured default."""
    return dict(own) if own else dict(settings.router.assignment.default_capacity)


def self_service_holds_new_tickets(settings: Settings) -> bool:
    """With the bot on, a new ticket waits for its hand-off; with it off, it is the router's at once."""
    bot = getattr(settings, "bot", None)
    return bool(bot is not None and bot.enabled)
