"""Client segments from history, as a pure function: loyal, core, difficult, dormant (rules in the config)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.feedback.config import SegmentSettings

SEGMENTS: tuple[str, ...] = ("loyal", "core", "difficult", "dormant")


@dataclass(frozen=True)
class ClientHistory:
    """What the rules look at, over the last `window_days`."""

    tickets: int = 0
    last_contact: datetime | None = None
    scores: tuple[int, ...] = ()
    complaints: int = 0
    low_scores: int = field(default=0)


def decide(history: ClientHistory, rules: SegmentSettings, now: datetime) -> tuple[str, str]:
    """(segment, reason): dormant first, then difficult, then loyal; everyone else is core."""
    if history.last_contact is None or now - history.last_contact > timedelta(days=rules.dormant_days):
        return "dormant", f"no contact for more than {rules.dormant_days} days"
    if history.complaints >= rules.difficult_complaints:
        return "difficult", f"{history.complaints} complaints"
    if history.low_scores >= rules.difficult_low_scores:
        return "difficult", f"{history.low_scores} low scores"
    if history.scores and len(history.scores) >= rules.loyal_min_answers and history.tickets >= rules.loyal_min_tickets:
        average = sum(history.scores) / len(history.scores)
        if average >= rules.loyal_min_score:
            return "loyal", f"{history.tickets} tickets, average score {average:.1f}"
    return "core", f"{history.tickets} tickets, little trouble"


def clean_tags(tags) -> list[str]:
    """Tags as short trimmed words, without duplicates, in the order given."""
    out: list[str] = []
    for tag in tags or ():
        tag = " ".join(str(tag).split())[:32]
        if tag and tag not in out:
            out.append(tag)
    return out[:20]
