"""Queue -> operator: who may take a ticket, who gets it, and when it moves on (pure policy).

Three questions kept apart:
- eligibility: online, works in the queue (at a level the queue accepts), speaks the ticket's
  language where the queue requires it, has not refused this ticket, has free capacity on the
  ticket's channel;
- choice among the eligible: the queue's strategy (least busy, round robin, sticky, manual);
  operators of the best (lowest) level come first, backup levels only when the first line is full;
- moving on: an offer times out, a step timeout relaxes the requirement or moves the ticket to
  the fallback queue.
Everything is decided from snapshots passed in, with `now` given, so tests need no database and
the desk re-checks the choice inside its transaction.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

STRATEGIES = ("least_busy", "round_robin", "sticky", "manual")
PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
PRIORITIES = tuple(PRIORITY_RANK)
ONLINE, AWAY, OFFLINE = "online", "away", "offline"
STATUSES = (ONLINE, AWAY, OFFLINE)
ANY_CHANNEL = "*"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class QueuePolicy:
    """How one queue hands out its tickets (from `[router.queues.NAME]`)."""

    strategy: str = "least_busy"
    least_busy_by: str = "count"  # "count" of tickets held, or "share" of capacity used
    language_required: bool = True
    max_level: int | None = None  # operators above this level only after relaxing
    offer_timeout: float = 0.0  # seconds an offer waits for an answer; 0: assign without asking
    offer_channels: frozenset[str] = frozenset()  # channels whose tickets are offered; empty: all
    step_timeout: float = 0.0  # seconds unassigned before the next step; 0: never
    on_step_timeout: str = "relax"  # "relax", "fallback" or "relax_then_fallback"
    fallback_queue: str | None = None
    sticky_window: float = 72 * 3600.0


@dataclass(frozen=True)
class Candidate:
    """An operator as assignment sees them: a snapshot taken for one decision."""

    id: int
    level: int = 1
    languages: frozenset[str] = frozenset()
    capacity: Mapping[str, int] = field(default_factory=dict)  # channel -> tickets at once; "*": others
    load: Mapping[str, int] = field(default_factory=dict)  # channel -> tickets held or offered
    status: str = ONLINE
    last_assigned_at: datetime | None = None

    def capacity_for(self, channel: str) -> int:
        return capacity_for(self.capacity, channel)

    def free_on(self, channel: str) -> bool:
        return self.load.get(channel, 0) < self.capacity_for(channel)

    @property
    def held(self) -> int:
        return sum(self.load.values())

    def share(self, channel: str) -> float:
        """Capacity used, counting every channel the operator holds tickets on and the one asked about."""
        channels = set(self.load) | {channel}
        total = sum(self.capacity_for(c) for c in channels)
        return self.held / total if total else 1.0


def capacity_for(capacity: Mapping[str, int], channel: str) -> int:
    """The capacity for a channel instance: its own entry, else its kind's ("telegram" for
    "telegram:shop"), else the "*" entry, else none."""
    if channel in capacity:
        return capacity[channel]
    kind = channel.split(":", 1)[0]
    if kind in capacity:
        return capacity[kind]
    return capacity.get(ANY_CHANNEL, 0)


@dataclass(frozen=True)
class TicketFacts:
    """What assignment needs to know about one ticket."""

    id: int
    queue: str
    channel: str
    language: str = ""
    priority: str = "normal"
    waiting_since: datetime | None = None
    relaxed: bool = False  # the step timeout relaxed the language and level requirements
    preferred: tuple[int, ...] = ()  # sticky: the client's previous operator, personal manager
    refused: frozenset[int] = frozenset()  # operators who rejected it or let the offer expire


def eligible(op: Candidate, ticket: TicketFacts, policy: QueuePolicy) -> bool:
    if op.status != ONLINE or op.id in ticket.refused or not op.free_on(ticket.channel):
        return False
    if ticket.relaxed:
        return True
    if policy.max_level is not None and op.level > policy.max_level:
        return False
    if policy.language_required and ticket.language and ticket.language not in op.languages:
        return False
    return True


def _least_busy_key(ticket: TicketFacts, policy: QueuePolicy):
    if policy.least_busy_by == "share":
        return lambda op: (op.share(ticket.channel), op.held, op.last_assigned_at or _EPOCH, op.id)
    return lambda op: (op.held, op.last_assigned_at or _EPOCH, op.id)


def _round_robin_key(op: Candidate):
    return (op.last_assigned_at or _EPOCH, op.id)


def choose_operator(ticket: TicketFacts, candidates: Iterable[Candidate], policy: QueuePolicy) -> Candidate | None:
    """The operator who gets (or is offered) the ticket now, or None: it waits in the queue."""
    if policy.strategy == "manual":
        return None
    pool = [op for op in candidates if eligible(op, ticket, policy)]
    if not pool:
        return None
    if policy.strategy == "sticky" and ticket.preferred:
        by_id = {op.id: op for op in pool}
        for wanted in ticket.preferred:
            if wanted in by_id:
                return by_id[wanted]
    best_level = min(op.level for op in pool)
    first_line = [op for op in pool if op.level == best_level]
    if policy.strategy == "round_robin":
        return min(first_line, key=_round_robin_key)
    return min(first_line, key=_least_busy_key(ticket, policy))


def search_order(policy: QueuePolicy) -> str | None:
    """How a queue's operators may be read in pages for this policy: "load" (least busy first),
    "turn" (round robin) or None (the key needs every operator: read them all)."""
    if policy.strategy == "round_robin":
        return "turn"
    return None if policy.least_busy_by == "share" else "load"


def rank(op: Candidate, ticket: TicketFacts, policy: QueuePolicy) -> tuple:
    """The order `choose_operator` prefers among eligible operators: level first, then the strategy's key."""
    key = _round_robin_key if policy.strategy == "round_robin" else _least_busy_key(ticket, policy)
    return (op.level, *key(op))


def settled(choice: Candidate | None, floor: Candidate, ticket: TicketFacts, policy: QueuePolicy) -> bool:
    """Whether reading further pages can change `choice`.

    Pages come in rank order of a lower bound (`floor`: loads without live offers, which only add);
    once the bound of the last operator read ranks after the choice, nobody later can beat it.
    """
    if choice is None:
        return False
    if policy.strategy == "sticky" and choice.id in ticket.preferred:
        return True
    return rank(floor, ticket, policy) > rank(choice, ticket, policy)


def queue_order(ticket: TicketFacts):
    """Sort key of a queue's backlog: priority descending, then the longest waiting first."""
    return (-PRIORITY_RANK.get(ticket.priority, 1), ticket.waiting_since or _EPOCH, ticket.id)


def order_backlog(tickets: Sequence[TicketFacts]) -> list[TicketFacts]:
    return sorted(tickets, key=queue_order)


def offer_timeout(policy: QueuePolicy, channel: str) -> float:
    """Seconds to wait for the chosen operator to accept; 0: the ticket is assigned at once."""
    if policy.offer_timeout <= 0:
        return 0.0
    if policy.offer_channels and channel not in policy.offer_channels and channel.split(":", 1)[0] not in policy.offer_channels:
        return 0.0
    return policy.offer_timeout


def step_action(policy: QueuePolicy, relaxed: bool) -> str | None:
    """What a step timeout does to an unassigned ticket: "relax", "fallback" or None (keep waiting)."""
    if policy.step_timeout <= 0:
        return None
    if policy.on_step_timeout == "relax":
        return None if relaxed else "relax"
    if policy.on_step_timeout == "fallback":
        return "fallback" if policy.fallback_queue else None
    if not relaxed:
        return "relax"
    return "fallback" if policy.fallback_queue else None


def step_due(policy: QueuePolicy, queued_at: datetime, relaxed: bool) -> datetime | None:
    """When the current step of an unassigned ticket times out (None: it never does)."""
    if step_action(policy, relaxed) is None:
        return None
    return queued_at + timedelta(seconds=policy.step_timeout)


def bump_priority(priority: str) -> str:
    """One step up (normal -> high -> urgent); urgent stays urgent."""
    rank = min(PRIORITY_RANK.get(priority, 1) + 1, len(PRIORITIES) - 1)
    return PRIORITIES[rank]
